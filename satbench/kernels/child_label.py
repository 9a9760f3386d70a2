"""The `child_label` format's autograd functions: the Triton kernels, and the same math in torch.

child_label stores parent-shaped weights (h, d) and, per weight, the child it feeds; the Triton
kernels (satbench.kernels.triton_child_label) stream each parent weight once and accumulate into
its alpha outputs. `ChildLabelTorch` computes the same function where those kernels cannot run (no
triton, or CPU tensors without TRITON_INTERPRET=1): expand, matmul, and gather the weight gradient
back to the parent's shape.
"""

import torch
import torch.nn.functional as F

from satbench.kernels.formats import triton_module


class ChildLabelTorch(torch.autograd.Function):
    """The child_label math in plain torch: expand, matmul, and gather the weight gradient.

    mask: (h, alpha, d) 0/1 in the weight's dtype; index: (h, d) int64 child of each position
    (0 where pruned); live: (h, d) 0/1, or None when nothing is pruned.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mask, index, live, alpha: int):
        h, d = weight.shape
        expanded = (weight[:, None, :] * mask).view(h * alpha, d)
        y = F.linear(x, expanded, bias)
        ctx.save_for_backward(x, expanded, index, live)
        ctx.alpha, ctx.has_bias = alpha, bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_y):
        x, expanded, index, live = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if need_x:
            grad_x = grad_y.mm(expanded)
        if need_w:
            h, d = index.shape
            full = grad_y.t().mm(x).view(h, ctx.alpha, d)
            grad_w = full.gather(1, index[:, None, :]).squeeze(1)
            if live is not None:
                grad_w.mul_(live)  # exact zeros where pruned (masked_fill_ was 30x slower)
        if need_b and ctx.has_bias:
            grad_b = grad_y.sum(0)
        return grad_x, grad_w, grad_b, None, None, None, None


class ChildLabelTriton(torch.autograd.Function):
    """The child_label Triton kernels as an autograd function; labels: (h, d) int8, -1 pruned."""

    @staticmethod
    def forward(ctx, x, weight, bias, labels, alpha: int):
        kernels = triton_module()
        x = x.contiguous() if x.stride(-1) != 1 else x
        y = kernels.forward(x, weight, labels, alpha, bias)
        ctx.save_for_backward(x, weight, labels)
        ctx.alpha, ctx.has_bias = alpha, bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_y):
        kernels = triton_module()
        x, weight, labels = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        if need_x:
            grad_x = kernels.grad_input(grad_y, weight, labels, ctx.alpha)
        if need_w:
            grad_w = kernels.grad_weight(grad_y, x, labels, ctx.alpha)
        if need_b and ctx.has_bias:
            grad_b = grad_y.sum(0)
        return grad_x, grad_w, grad_b, None, None

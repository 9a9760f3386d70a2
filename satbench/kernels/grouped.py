"""The `grouped` format: a shared split as alpha dense blocks of the column-permuted weight.

With one partition of the inputs for every parent, storing the weight's columns grouped by child
(`grouped_order`) makes child c the (h, d_c) block of columns starts[c] .. starts[c+1]-1, and the
expanded layer exactly the dense parent's FLOPs and weight bytes: one torch.bmm when the blocks
have equal sizes, else a loop of alpha matmuls (about as fast at large batch, slower at small
batch: fewer calls win).

The product is computed transposed, child c into rows c::alpha of an (alpha*h, B) buffer (a row
stride BLAS accepts), so the result comes back in unit order i*alpha + c as a column-major
(B, alpha*h) view, with no interleaving copy (call .contiguous() if you need row-major). It
computes with the raw weight, like nn.Linear, so it trusts that pruned weights hold exact zeros;
FPELinear keeps them so, and the weight gradient is exactly zero there.
"""

from dataclasses import dataclass

import torch

from satbench.kernels.formats import MAX_ALPHA


def shared_partition(child: torch.Tensor) -> torch.Tensor | None:
    """(d,) the one child each input feeds in every parent (-1: pruned in every parent), or None
    when some input feeds different children in different parents (a per-parent split)."""
    live = child >= 0
    high = child.max(dim=0).values
    low = child.masked_fill(~live, MAX_ALPHA).min(dim=0).values
    any_live = live.any(dim=0)
    if bool(((high != low) & any_live).any()):
        return None
    return torch.where(any_live, high, -1).to(torch.int64)


def grouped_order(partition: torch.Tensor, alpha: int) -> torch.Tensor:
    """(d,) the storage order of the grouped format: storage column s holds input perm[s], each
    child's inputs contiguous and in child order, inputs pruned in every parent last."""
    partition = partition.clone()
    partition[partition < 0] = alpha
    return torch.sort(partition, stable=True).indices


@dataclass
class Grouped:
    """Where each child's inputs sit in storage: columns starts[c] .. starts[c+1]-1."""

    starts: list[int]
    equal: int  # the common group size when every group has it and no column is dead, else 0


def grouped_blocks(stored_partition: torch.Tensor | None, alpha: int) -> Grouped | None:
    """The blocks of a stored layout, given the shared partition in storage order; None unless
    storage holds each child's inputs as one block, in child order, with the inputs pruned in
    every parent after them (the layout `grouped_order` makes)."""
    if stored_partition is None:
        return None
    d = len(stored_partition)
    alive = stored_partition[: int((stored_partition >= 0).sum())]
    if not (bool((alive >= 0).all()) and bool((alive[1:] >= alive[:-1]).all())):
        return None
    counts = torch.bincount(alive, minlength=alpha).tolist()
    starts = [0]
    for count in counts:
        starts.append(starts[-1] + count)
    equal = counts[0] if len(set(counts)) == 1 and starts[-1] == d else 0
    return Grouped(starts, equal)


_TRANSPOSED_GRAD_X_FROM = 64  # batch size from which grouped computes grad_x as (d, B)


def grouped_product(x, weight, bias, perm, groups: Grouped, alpha: int):
    """(y, permuted x) for the grouped format; y is (B, alpha*h) in column-major layout."""
    batch = x.shape[0]
    h = weight.shape[0]
    xp = x.contiguous() if perm is None else x.index_select(1, perm)
    out = xp.new_empty(h * alpha, batch)
    if groups.equal:  # one batched product over the alpha blocks
        n = groups.equal
        blocks = weight.view(h, alpha, n).transpose(0, 1)  # (alpha, h, n)
        inputs = xp.view(batch, alpha, n).permute(1, 2, 0)  # (alpha, n, B)
        target = out.view(h, alpha, batch).transpose(0, 1)  # (alpha, h, B)
        if bias is None:
            torch.bmm(blocks, inputs, out=target)
        else:
            torch.baddbmm(bias.view(h, alpha).t()[:, :, None], blocks, inputs, out=target)
        return out.t(), xp
    bias_rows = None if bias is None else bias.view(h, alpha)
    for c in range(alpha):
        start, stop = groups.starts[c], groups.starts[c + 1]
        target = out[c::alpha]  # child c of every parent: rows c, alpha + c, ...
        if stop == start:
            if bias is None:
                target.zero_()
            else:
                target.copy_(bias_rows[:, c:c + 1])
        elif bias is None:
            torch.mm(weight[:, start:stop], xp[:, start:stop].t(), out=target)
        else:
            torch.addmm(bias_rows[:, c:c + 1], weight[:, start:stop], xp[:, start:stop].t(),
                        out=target)
    return out.t(), xp


class GroupedFn(torch.autograd.Function):
    """grouped_product with its backward: the output is computed transposed, as T (alpha*h, B)
    with child c's block in rows c::alpha, and returned as T.t(), so that no interleaving copy
    into unit order i*alpha + c is needed."""

    @staticmethod
    def forward(ctx, x, weight, bias, perm, inverse, live, groups: Grouped, alpha: int):
        y, xp = grouped_product(x, weight, bias, perm, groups, alpha)
        ctx.save_for_backward(xp, weight, inverse, live)
        ctx.groups, ctx.alpha, ctx.has_bias = groups, alpha, bias is not None
        ctx.permuted = perm is not None
        return y

    @staticmethod
    def backward(ctx, grad_y):
        xp, weight, inverse, live = ctx.saved_tensors
        alpha, groups = ctx.alpha, ctx.groups
        starts, n = groups.starts, groups.equal
        batch, (h, d) = grad_y.shape[0], weight.shape
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = grad_w = grad_b = None
        grad_t = grad_y.t().contiguous()  # (alpha*h, B); free when grad_y is column-major
        per_child = grad_t.view(h, alpha, batch).transpose(0, 1)  # (alpha, h, B)
        dead = starts[-1] < d
        children = [c for c in range(alpha) if starts[c + 1] > starts[c]]
        if need_x:
            # At larger batches the input gradient is computed transposed, (d, B): thin blocks
            # of d_c columns made the (B, d_c) products several times slower.
            transposed = batch >= _TRANSPOSED_GRAD_X_FROM
            shape = (d, batch) if transposed else (batch, d)
            grad_x = grad_y.new_zeros(shape) if dead else grad_y.new_empty(shape)
            if n and transposed:
                torch.bmm(weight.view(h, alpha, n).permute(1, 2, 0), per_child,
                          out=grad_x.view(alpha, n, batch))
            elif n:
                torch.bmm(per_child.transpose(1, 2), weight.view(h, alpha, n).transpose(0, 1),
                          out=grad_x.view(batch, alpha, n).transpose(0, 1))
            else:
                for c in children:
                    start, stop = starts[c], starts[c + 1]
                    if transposed:
                        torch.mm(weight[:, start:stop].t(), grad_t[c::alpha],
                                 out=grad_x[start:stop])
                    else:
                        torch.mm(grad_t[c::alpha].t(), weight[:, start:stop],
                                 out=grad_x[:, start:stop])
            if transposed:
                grad_x = (grad_x.index_select(0, inverse) if ctx.permuted else grad_x).t()
            elif ctx.permuted:
                grad_x = grad_x.index_select(1, inverse)
        if need_w:
            grad_w = grad_y.new_zeros(h, d) if dead else grad_y.new_empty(h, d)
            if n:
                torch.bmm(per_child, xp.view(batch, alpha, n).transpose(0, 1),
                          out=grad_w.view(h, alpha, n).transpose(0, 1))
            else:
                for c in children:
                    start, stop = starts[c], starts[c + 1]
                    torch.mm(grad_t[c::alpha], xp[:, start:stop], out=grad_w[:, start:stop])
            if live is not None:
                grad_w.mul_(live)  # exact zeros where pruned (masked_fill_ was 30x slower)
        if need_b and ctx.has_bias:
            grad_b = grad_t.sum(1)
        return grad_x, grad_w, grad_b, None, None, None, None, None


def grouped_linear(x, weight, bias, perm, inverse, live, groups: Grouped, alpha: int):
    """y = x @ W'.T + bias in the grouped format, through autograd only when a gradient is
    needed (the plain product skips saving tensors for backward)."""
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or (
            bias is not None and bias.requires_grad)):
        return GroupedFn.apply(x, weight, bias, perm, inverse, live, groups, alpha)
    return grouped_product(x, weight, bias, perm, groups, alpha)[0]

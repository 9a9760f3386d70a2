"""Adam, AdamW and SparseAdam as torch.optim's CPU steps compute them, with one change: the square
root of the second moment is rounded correctly, so the step is the same on every CPU.

Why: torch.sqrt on the CPU calls MKL's vector math library (VML). Its float32 and float64 square
roots are faithful (within an ulp), not correctly rounded, and VML picks its code path by CPU
vendor and instruction set, whatever MKL_CBWR says: on one AMD EPYC 17% of float32 roots differ
from the correctly rounded ones, and an emulated Intel CPU gets a different 15%. Adam takes that
root of every weight's second moment at every step, so the trained weights depended on the CPU.

exact_sqrt takes VML's float64 root and rounds it to float32. That is the correctly rounded
float32 root on any CPU whose float64 root is faithful: for every float32 x, the float64 values
one ulp either side of the correctly rounded sqrt(x) round to the same float32 (checked for every
float32 in [1, 4) and every subnormal, which covers all of them since sqrt(4x) = 2 sqrt(x):
tests/test_adam.py).

Everything else is torch 2.13's single-tensor step (torch/optim/adam.py `_single_tensor_adam`
without amsgrad, maximize or capturable; torch/optim/_functional.py `sparse_adam`), operation for
operation, with the state under torch's names, so code that reads or moves optimizer state
(BIMT's swaps) works unchanged.
"""

import math

import torch


def exact_sqrt(x: torch.Tensor) -> torch.Tensor:
    """The correctly rounded float32 square root of a float32 tensor, the same on every CPU."""
    return torch.sqrt(x.double()).to(x.dtype)


class Adam(torch.optim.Optimizer):
    """torch.optim.Adam (decoupled_weight_decay=False) or AdamW (True), single-tensor step."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay,
                                  "decoupled_weight_decay": decoupled_weight_decay})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                grad, exp_avg, exp_avg_sq = param.grad, state["exp_avg"], state["exp_avg_sq"]
                state["step"] += 1
                if weight_decay != 0:
                    if group["decoupled_weight_decay"]:
                        param.mul_(1 - lr * weight_decay)
                    else:
                        grad = grad.add(param, alpha=weight_decay)
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step = state["step"].item()
                bias_correction1 = 1 - beta1**step
                bias_correction2 = 1 - beta2**step
                step_size = lr / bias_correction1
                denom = (exact_sqrt(exp_avg_sq) / bias_correction2**0.5).add_(eps)
                param.addcdiv_(exp_avg, denom, value=-step_size)


def AdamW(params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,  # noqa: N802
          weight_decay: float = 1e-2) -> Adam:
    """torch.optim.AdamW: Adam with decoupled weight decay (and AdamW's default decay)."""
    return Adam(params, lr, betas, eps, weight_decay, decoupled_weight_decay=True)


class SparseAdam(torch.optim.Optimizer):
    """torch.optim.SparseAdam: the moments and values of the rows a sparse gradient touches."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                self._update(param, state, beta1, beta2, group["lr"], group["eps"])

    @staticmethod
    def _update(param, state, beta1, beta2, lr, eps):
        grad = param.grad.coalesce()  # the update is non-linear, so indices must be unique
        indices, values = grad._indices(), grad._values()
        if values.numel() == 0:
            return

        def make_sparse(update):
            if indices.dim() == 0 or update.dim() == 0:
                return grad.new().resize_as_(grad)
            return grad.new(indices, update, grad.size())

        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        old_exp_avg = exp_avg.sparse_mask(grad)._values()
        exp_avg_update = values.sub(old_exp_avg).mul_(1 - beta1)
        exp_avg.add_(make_sparse(exp_avg_update))
        old_exp_avg_sq = exp_avg_sq.sparse_mask(grad)._values()
        exp_avg_sq_update = values.pow(2).sub_(old_exp_avg_sq).mul_(1 - beta2)
        exp_avg_sq.add_(make_sparse(exp_avg_sq_update))
        numer = exp_avg_update.add_(old_exp_avg)
        denom = exact_sqrt(exp_avg_sq_update.add_(old_exp_avg_sq)).add_(eps)
        bias_correction1 = 1 - beta1 ** state["step"]
        bias_correction2 = 1 - beta2 ** state["step"]
        step_size = lr * math.sqrt(bias_correction2) / bias_correction1
        param.add_(make_sparse(-step_size * numer.div_(denom)))

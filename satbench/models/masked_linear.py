"""A linear layer with a fixed boolean mask: the building block of FPE's pruned networks.

FPE's guarantee is a fixed parameter count, so a pruned weight must stay dead for good. Three
things keep it dead:
- forward reads `effective_weight()` (the weight with pruned entries replaced by 0), so the
  gradient at a pruned position is exactly zero and a corrupted raw value never reaches an output;
- `apply_mask_()` zeroes the raw pruned entries in place; the trainer calls it after every
  optimizer step, because an optimizer with stale momentum (or a user's in-place edit) can still
  move a raw entry even though its gradient is zero;
- a load_state_dict post-hook re-applies the mask, so loading a state dict with non-zero values at
  pruned positions cannot revive them.
"""

import torch
import torch.nn.functional as F
from torch import nn

from satbench.errors import SatbenchError


def check_sizes(**sizes: int) -> None:
    """A one-line SatbenchError naming the first size that is not a positive integer."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SatbenchError(f"{name}: expected a positive integer, got {value!r}")


def _reapply_mask(module: "MaskedLinear", incompatible_keys) -> None:
    # A module-level function (not a lambda) so that models stay picklable and deep-copyable.
    module.apply_mask_()


class MaskedLinear(nn.Module):
    """y = x @ (weight * mask).T + bias, with weight (out_features, in_features).

    The arguments are ordered like the weight's shape: MaskedLinear(out_features, in_features).
    The mask is a bool buffer of the weight's shape; all True means dense. It is saved in the state
    dict, so a loaded model gets its masks back.
    generator: when given, weight and bias are drawn like nn.Linear's default (uniform in
    +-1/sqrt(in_features)) from it; when None they start at zero (a container to fill or load).
    """

    def __init__(
        self, out_features: int, in_features: int, *, bias: bool = True,
        generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        check_sizes(out_features=out_features, in_features=in_features)
        self.out_features = out_features
        self.in_features = in_features
        self.weight = nn.Parameter(torch.zeros(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.register_buffer("mask", torch.ones(out_features, in_features, dtype=torch.bool))
        self.register_load_state_dict_post_hook(_reapply_mask)
        if generator is not None:
            self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        # nn.Linear's default is kaiming_uniform_(a=sqrt(5)), whose bound works out to
        # 1/sqrt(fan_in); drawing it from our own generator keeps it off the global RNG.
        bound = self.in_features**-0.5
        self.weight.uniform_(-bound, bound, generator=generator)
        if self.bias is not None:
            self.bias.uniform_(-bound, bound, generator=generator)
        self.apply_mask_()

    @torch.no_grad()
    def set_mask(self, mask: torch.Tensor | None) -> None:
        """Fix a new mask (None: dense) and zero the weights it prunes."""
        if mask is None:
            self.mask.fill_(True)
            return
        mask = torch.as_tensor(mask)
        if tuple(mask.shape) != tuple(self.weight.shape):
            raise SatbenchError(
                f"mask: expected shape {tuple(self.weight.shape)}, got {tuple(mask.shape)}"
            )
        self.mask.copy_(mask.to(torch.bool))
        self.apply_mask_()

    @torch.no_grad()
    def apply_mask_(self) -> None:
        # masked_fill, not multiplication: inf * 0 would leave a NaN behind.
        self.weight.masked_fill_(~self.mask, 0.0)

    def effective_weight(self) -> torch.Tensor:
        """The weight the layer computes with: zero wherever the mask is False."""
        return self.weight.masked_fill(~self.mask, 0.0)

    def nnz(self) -> int:
        """Non-zero entries of the effective weight (an exact zero is never counted)."""
        return int(torch.count_nonzero(self.effective_weight()))

    @property
    def is_dense(self) -> bool:
        return bool(self.mask.all())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.effective_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"out_features={self.out_features}, in_features={self.in_features}, "
                f"bias={self.bias is not None}, mask_density={self.mask.float().mean().item():.3f}")

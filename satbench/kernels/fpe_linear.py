"""FPELinear: an FPE-expanded first layer held in one of several formats.

After FPE's split and pruning, the expanded weight W' (alpha*h, d) has at most one live entry per
(parent i, input j): input j of parent i feeds exactly one child, child[i, j]. So the layer is
stored losslessly in the parent's shape:

- `weight` (h, d) Parameter: the live weight of each position (exactly 0 where pruned);
- `child` (h, d) int8 buffer: the child a position feeds, -1 where it is pruned;
- `bias` (alpha*h,) Parameter or None;
- `perm` (d,) int64 buffer: storage column s holds input perm[s]. It is the identity except in the
  `grouped` format, which keeps each child's inputs contiguous. Every format honours it, so a
  state dict loads into a layer of any format and computes the same function.

Child c of parent i is output unit i*alpha + c in every format, as in satbench.models.fpe.

Formats (FORMATS):
- masked: the dense (alpha*h, d) weight times a 0/1 mask, then F.linear. The reference; costs
  about alpha times the dense parent layer (alpha times the FLOPs, plus building W').
- grouped: shared splits only (one partition for all parents: random-shared, contiguous, clause).
  One input permutation, then the alpha child blocks (h, d_c) with exactly the dense parent's
  FLOPs and weight bytes: one torch.bmm when the blocks have equal sizes, else a loop of alpha
  matmuls (about as fast at large batch, slower at small batch: fewer calls win). The product is
  computed transposed, child c into rows c::alpha of an (alpha*h, B) buffer, so the result comes
  back in unit order i*alpha + c as a column-major (B, alpha*h) view, with no interleaving copy
  (call .contiguous() if you need row-major). It computes with the raw weight, like nn.Linear,
  so it trusts that pruned weights hold exact zeros: the constructor, state-dict loading and
  apply_mask_() keep them so, and the weight gradient is exactly zero there.
- child_label: per-parent splits. A Triton kernel streams each parent weight once and accumulates
  into alpha outputs per parent (satbench.kernels.triton_child_label), with a backward pass. With
  no usable Triton (no CUDA device, or CPU tensors without TRITON_INTERPRET=1) it runs a pure-torch
  implementation of the same math (expand, matmul, gather the weight gradient back).
- csr: torch.sparse CSR matmul; a baseline only (on CPU, half precision is computed in float32).

format="auto" resolves per call from the split, the input's device and, on the CPU, the layer and
batch size (select_format: there `masked` beats `grouped` for small layers); the format and backend
that ran last are in `format_used` and `backend_used`, and a log line on the `satbench.kernels`
logger says so whenever they change.

Pick the format before building an optimizer: switching to or from `grouped` permutes the
weight's columns in place, which an optimizer's per-element state would not follow.
"""

import logging
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from satbench.errors import SatbenchError
from satbench.models.masked_linear import MaskedLinear

log = logging.getLogger("satbench.kernels")

FORMATS = ("masked", "grouped", "child_label", "csr")
FORMAT_CHOICES = ("auto", *FORMATS)
BACKENDS = ("auto", "triton", "torch")
MAX_ALPHA = 127  # child labels are int8

# The per-parent format `auto` uses where the Triton kernel cannot run (CPU). Measured with
# benchmarks/kernels.py (2-core AVX-512 CPU, one thread): child_label's torch path does the same
# forward as masked and was no faster in fwd+bwd; csr was faster only for some small-batch
# forwards and 5-200x slower with backward.
CPU_PER_PARENT_FORMAT = "masked"


# --- Triton availability -------------------------------------------------------------------------

_TRITON = None  # the imported satbench.kernels.triton_child_label module, or the import error


def _triton_module():
    global _TRITON
    if _TRITON is None:
        try:
            from satbench.kernels import triton_child_label
            _TRITON = triton_child_label
        except Exception as error:  # ImportError, or a triton that fails on import
            _TRITON = error
    return None if isinstance(_TRITON, BaseException) else _TRITON


def triton_importable() -> bool:
    return _triton_module() is not None


def triton_interpreting() -> bool:
    """True when the kernels were compiled for triton's CPU interpreter (TRITON_INTERPRET=1)."""
    module = _triton_module()
    return module is not None and module.INTERPRETING


def triton_usable(device) -> bool:
    """Whether the child_label kernel can run on tensors of `device`."""
    device = torch.device(device)
    module = _triton_module()
    if module is None:
        return False
    return (device.type == "cpu") == module.INTERPRETING and device.type in ("cpu", "cuda")


# On the CPU, `grouped` saves masked's (alpha-1)*h*d wasted multiply-adds per row and masked's
# per-call build of W' (worth about GROUPED_BUILD_ROWS rows), but pays a fixed dispatch overhead
# (an input gather, more calls), loses BLAS efficiency when each child skips few inputs or the
# layer has few outputs, and transposes a large column-major output in backward. Chosen from
# fwd+bwd timings over a grid (d 32-256, h 8-512, alpha 2 and 4, batch 1-16384; one thread, 2-core
# AVX-512 CPU; benchmarks/grouped_vs_masked.py), under the constraint that this project's
# training layers (d = 32, batch 16384), where grouped measured 1.15-1.45x slower, stay masked.
# In two runs of the grid its pick averaged 1.01x the time of the faster format (worst 1.51x and
# 1.74x, single noisy cells), against 1.16-1.19x for always masked and 1.17-1.22x for always
# grouped.
GROUPED_MIN_SKIPPED = 32  # inputs each child skips: d - d // alpha
GROUPED_MIN_OUTPUTS = 32  # alpha * h output units
GROUPED_MIN_SAVED = 1 << 21  # (alpha-1)*h*d*(batch + GROUPED_BUILD_ROWS)
GROUPED_BUILD_ROWS = 64
GROUPED_MAX_OUTPUT = 1 << 23  # batch * alpha * h output elements


def grouped_pays_on_cpu(d: int, h: int, alpha: int, batch: int) -> bool:
    """Whether `grouped` is expected to beat `masked` on the CPU for this layer and batch."""
    saved = (alpha - 1) * h * d * (batch + GROUPED_BUILD_ROWS)
    return (d - d // alpha >= GROUPED_MIN_SKIPPED and alpha * h >= GROUPED_MIN_OUTPUTS
            and saved >= GROUPED_MIN_SAVED and batch * alpha * h <= GROUPED_MAX_OUTPUT)


def select_format(shared: bool, device, *, d: int | None = None, h: int | None = None,
                  alpha: int | None = None, batch: int | None = None) -> str:
    """The format `auto` picks.

    Shared split: grouped, except on the CPU when the layer size (d inputs, h parents, alpha) and
    batch are given and grouped_pays_on_cpu says masked is faster there. Per-parent split:
    child_label where its Triton kernel runs natively (CUDA), else CPU_PER_PARENT_FORMAT.
    """
    device = torch.device(device)
    if shared:
        sized = None not in (d, h, alpha, batch)
        if device.type == "cpu" and sized and not grouped_pays_on_cpu(d, h, alpha, batch):
            return "masked"
        return "grouped"
    if device.type == "cuda" and triton_usable(device):
        return "child_label"
    return CPU_PER_PARENT_FORMAT


# --- helpers ------------------------------------------------------------------------------------


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


def _as_labels(child, mask, shape, alpha: int, device) -> torch.Tensor:
    child = torch.as_tensor(child, device=device)
    if tuple(child.shape) != tuple(shape):
        raise SatbenchError(f"child: expected shape {tuple(shape)}, got {tuple(child.shape)}")
    if child.dtype.is_floating_point or child.dtype == torch.bool:
        raise SatbenchError(f"child: expected integer labels, got dtype {child.dtype}")
    child = child.to(torch.int64)
    bad = (child < -1) | (child >= alpha)
    if bool(bad.any()):
        i, j = (int(v) for v in bad.nonzero()[0])
        raise SatbenchError(f"child[{i}, {j}] = {int(child[i, j])} is outside [0, {alpha}) "
                            "(or -1 for pruned)")
    if mask is not None:
        mask = torch.as_tensor(mask, device=device)
        if tuple(mask.shape) != tuple(shape):
            raise SatbenchError(f"mask: expected shape {tuple(shape)}, got {tuple(mask.shape)}")
        child = child.masked_fill(~mask.to(torch.bool), -1)
    return child.to(torch.int8)


_TRANSPOSED_GRAD_X_FROM = 64  # batch size from which grouped computes grad_x as (d, B)


@dataclass
class _Grouped:
    """Where each child's inputs sit in storage: columns starts[c] .. starts[c+1]-1."""

    starts: list[int]
    equal: int  # the common group size when every group has it and no column is dead, else 0


class _Permute(torch.autograd.Function):
    """x[:, perm] whose backward gathers with the inverse permutation (no scatter)."""

    @staticmethod
    def forward(ctx, x, perm, inverse):
        ctx.save_for_backward(inverse)
        return x.index_select(1, perm)

    @staticmethod
    def backward(ctx, grad):
        (inverse,) = ctx.saved_tensors
        return grad.index_select(1, inverse), None, None


def _grouped_product(x, weight, bias, perm, groups: _Grouped, alpha: int):
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


class _GroupedFn(torch.autograd.Function):
    """Shared split: child c is one (h, n_c) block of the column-permuted weight.

    The output is computed transposed, as T (alpha*h, B) with child c's block in rows c::alpha
    (a row stride BLAS accepts), and returned as T.t(): the (B, alpha*h) result in column-major
    layout, so that no interleaving copy into unit order i*alpha + c is needed.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, perm, inverse, live, groups: _Grouped, alpha: int):
        y, xp = _grouped_product(x, weight, bias, perm, groups, alpha)
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


class _ChildLabelTorch(torch.autograd.Function):
    """The child_label math in plain torch: expand, matmul, and gather the weight gradient."""

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


class _ChildLabelTriton(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, labels, alpha: int):
        kernels = _triton_module()
        x = x.contiguous() if x.stride(-1) != 1 else x
        y = kernels.forward(x, weight, labels, alpha, bias)
        ctx.save_for_backward(x, weight, labels)
        ctx.alpha, ctx.has_bias = alpha, bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_y):
        kernels = _triton_module()
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


def _reload(module: "FPELinear", incompatible_keys) -> None:
    # A module-level function (not a lambda), so that layers stay picklable and deep-copyable.
    module._refresh()
    if module.shared and module.format in ("auto", "grouped"):
        module._relayout(True)
    module.apply_mask_()


# --- the layer ----------------------------------------------------------------------------------


class FPELinear(nn.Module):
    """An FPE-expanded layer y = x @ W'.T + bias with W' (alpha*h, d), stored parent-shaped.

    weight: (h, d) parent weights; child: (h, d) integer labels, input j of parent i feeding
    child child[i, j] in [0, alpha) (or -1: pruned); mask: optional (h, d) bool, False = pruned;
    bias: (alpha*h,) or None. format: one of FORMAT_CHOICES; backend (child_label only): "auto"
    (Triton where it can run, else torch), "triton" or "torch".
    """

    def __init__(self, weight: torch.Tensor, child, alpha: int, bias: torch.Tensor | None = None,
                 *, mask=None, format: str = "auto", backend: str = "auto"):
        super().__init__()
        weight = torch.as_tensor(weight).detach()
        if weight.ndim != 2 or not weight.dtype.is_floating_point:
            raise SatbenchError(f"weight: expected a 2-D float tensor (h, d), got shape "
                                f"{tuple(weight.shape)} and dtype {weight.dtype}")
        if isinstance(alpha, bool) or not isinstance(alpha, int) or not 1 <= alpha <= MAX_ALPHA:
            raise SatbenchError(f"alpha: expected an integer in 1..{MAX_ALPHA}, got {alpha!r}")
        h, d = weight.shape
        self.alpha, self.parents = alpha, h
        self.in_features, self.out_features = d, alpha * h
        labels = _as_labels(child, mask, weight.shape, alpha, weight.device)
        self.weight = nn.Parameter(weight.masked_fill(labels < 0, 0.0).contiguous())
        if bias is not None:
            bias = torch.as_tensor(bias).detach().to(weight.device, weight.dtype)
            if tuple(bias.shape) != (alpha * h,):
                raise SatbenchError(f"bias: expected shape ({alpha * h},), got "
                                    f"{tuple(bias.shape)}")
            self.bias = nn.Parameter(bias.clone())
        else:
            self.register_parameter("bias", None)
        self.register_buffer("child", labels)
        self.register_buffer("perm", torch.arange(d, device=weight.device))
        self.register_load_state_dict_post_hook(_reload)
        self.format_used: str | None = None
        self.backend_used: str | None = None
        self._logged = None
        self._refresh()
        self.set_format(format, backend)

    # -- construction from and to the masked form --

    @classmethod
    def from_masked(cls, weight: torch.Tensor, mask, alpha: int,
                    bias: torch.Tensor | None = None, **kwargs) -> "FPELinear":
        """From an expanded (alpha*h, d) weight and its bool mask (rows i*alpha + c)."""
        weight = torch.as_tensor(weight).detach()
        if weight.ndim != 2:
            raise SatbenchError(f"weight: expected (alpha*h, d), got shape {tuple(weight.shape)}")
        if isinstance(alpha, bool) or not isinstance(alpha, int) or alpha < 1 or (
                weight.shape[0] % alpha):
            raise SatbenchError(f"alpha: expected a positive divisor of the {weight.shape[0]} "
                                f"rows, got {alpha!r}")
        rows, d = weight.shape
        h = rows // alpha
        mask = (torch.ones_like(weight, dtype=torch.bool) if mask is None
                else torch.as_tensor(mask, device=weight.device).to(torch.bool))
        if tuple(mask.shape) != (rows, d):
            raise SatbenchError(f"mask: expected shape {(rows, d)}, got {tuple(mask.shape)}")
        live = mask.view(h, alpha, d)
        count = live.sum(dim=1)
        if bool((count > 1).any()):
            i, j = (int(v) for v in (count > 1).nonzero()[0])
            children = live[i, :, j].nonzero().flatten().tolist()
            raise SatbenchError(
                f"mask: input {j} of parent {i} is live in children {children} (rows "
                f"{[i * alpha + c for c in children]}); an FPE layer gives each (parent, input) "
                "position to at most one child, so this is not an FPE expansion with this alpha"
            )
        labels = torch.where(count == 1, live.to(torch.int8).argmax(dim=1), -1)
        parent = weight.view(h, alpha, d).masked_fill(~live, 0.0).sum(dim=1)
        return cls(parent, labels, alpha, bias, **kwargs)

    @classmethod
    def from_masked_linear(cls, layer: MaskedLinear, alpha: int, **kwargs) -> "FPELinear":
        bias = None if layer.bias is None else layer.bias.detach()
        return cls.from_masked(layer.weight.detach(), layer.mask, alpha, bias, **kwargs)

    def parent_weight(self) -> torch.Tensor:
        """(h, d) weights in input order (a detached copy)."""
        return self.weight.detach()[:, self._inverse]

    def labels(self) -> torch.Tensor:
        """(h, d) int8 child of each position in input order, -1 where pruned."""
        return self.child[:, self._inverse]

    def live_mask(self) -> torch.Tensor:
        """(h, d) bool: the positions that hold a weight, in input order."""
        return self.labels() >= 0

    def expanded_mask(self) -> torch.Tensor:
        """(alpha*h, d) bool mask of the expanded layer, in input order."""
        member = self.labels()[:, None, :] == torch.arange(self.alpha, device=self.child.device)[
            None, :, None]
        return member.reshape(self.out_features, self.in_features)

    def expanded_weight(self) -> torch.Tensor:
        """(alpha*h, d) dense expanded weight W', in input order (differentiable)."""
        weight = self.weight[:, self._inverse] if not self._identity else self.weight
        member = self.expanded_mask().view(self.parents, self.alpha, self.in_features)
        return torch.where(member, weight[:, None, :], 0.0).reshape(self.out_features,
                                                                     self.in_features)

    def to_masked(self) -> MaskedLinear:
        """An equivalent MaskedLinear (alpha*h, d), on this layer's device and dtype."""
        layer = MaskedLinear(self.out_features, self.in_features, bias=self.bias is not None,
                             dtype=self.weight.dtype).to(self.weight.device)
        with torch.no_grad():
            layer.weight.copy_(self.expanded_weight())
            if self.bias is not None:
                layer.bias.copy_(self.bias)
            layer.set_mask(self.expanded_mask())
        return layer

    # -- formats --

    @property
    def shared(self) -> bool:
        """Whether one partition serves every parent (the grouped format applies)."""
        return self._partition is not None

    def set_format(self, format: str = "auto", backend: str | None = None) -> "FPELinear":
        """Choose the format (and child_label backend); lays out storage for `grouped`."""
        if format not in FORMAT_CHOICES:
            raise SatbenchError(f"format: expected one of {', '.join(FORMAT_CHOICES)}, "
                                f"got {format!r}")
        if backend is not None:
            if backend not in BACKENDS:
                raise SatbenchError(f"backend: expected one of {', '.join(BACKENDS)}, "
                                    f"got {backend!r}")
            if backend == "triton" and not triton_importable():
                raise SatbenchError(f"backend 'triton': triton cannot be imported ({_TRITON})")
            self.backend = backend
        if format == "grouped" and not self.shared:
            raise SatbenchError("format 'grouped': needs a shared split (every parent with the "
                                "same partition of the inputs), but the child labels differ "
                                "between parents; use 'child_label', 'masked' or 'auto'")
        self.format = format
        grouped = format == "grouped" or (format == "auto" and self.shared)
        self._relayout(grouped)
        self._cache = {}
        self.format_used = self.backend_used = None
        return self

    def resolve(self, device, batch: int | None = None) -> tuple[str, str]:
        """(format, backend) a forward of `batch` rows on `device` would use."""
        device = torch.device(device)
        key = ("resolve", str(device), batch)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._resolve(device, batch)
        return found

    def _resolve(self, device: torch.device, batch: int | None) -> tuple[str, str]:
        fmt = self.format
        if fmt == "auto":
            fmt = select_format(self.shared, device, d=self.in_features, h=self.parents,
                                alpha=self.alpha, batch=batch)
        if fmt == "grouped" and not self.shared:
            raise SatbenchError("format 'grouped': the loaded child labels are not a shared split")
        if fmt == "child_label":
            usable = triton_usable(device)
            if self.backend == "triton" and not usable:
                raise SatbenchError(
                    f"backend 'triton': cannot run on {device.type} tensors (needs CUDA, or CPU "
                    "tensors with TRITON_INTERPRET=1 set before satbench.kernels is first used)")
            if self.backend != "torch" and usable:
                return fmt, "triton-interpreter" if device.type == "cpu" else "triton"
        return fmt, "torch"

    # -- storage layout --

    @torch.no_grad()
    def _relayout(self, grouped: bool) -> None:
        d = self.in_features
        device = self.child.device
        if grouped:
            partition = self._partition.clone()
            partition[partition < 0] = self.alpha  # inputs pruned everywhere go last, unused
            new_perm = torch.sort(partition, stable=True).indices
        else:
            new_perm = torch.arange(d, device=device)
        if torch.equal(new_perm, self.perm):
            return
        to_new = self._inverse[new_perm]  # current storage column of each new storage column
        self.weight.data = self.weight.data[:, to_new].contiguous()
        self.child = self.child[:, to_new].contiguous()
        self.perm = new_perm
        self._refresh()

    @torch.no_grad()
    def _refresh(self) -> None:
        """Recompute what derives from child and perm (after a relayout or a state-dict load)."""
        d, alpha = self.in_features, self.alpha
        self._identity = bool(torch.equal(self.perm, torch.arange(d, device=self.perm.device)))
        self._inverse = torch.argsort(self.perm)
        self._partition_storage = shared_partition(self.child)
        # the partition in input order, independent of the current layout
        self._partition = (None if self._partition_storage is None
                           else self._partition_storage[self._inverse])
        self._pruned = (self.child < 0) if bool((self.child < 0).any()) else None
        self._grouped = None
        part = self._partition_storage
        if part is not None:
            alive = part[: int((part >= 0).sum())]
            # usable when storage holds each child's inputs as one block, in child order, with
            # the inputs pruned in every parent after them
            if bool((alive >= 0).all()) and bool((alive[1:] >= alive[:-1]).all()):
                counts = torch.bincount(alive, minlength=alpha).tolist()
                starts = [0]
                for count in counts:
                    starts.append(starts[-1] + count)
                equal = counts[0] if len(set(counts)) == 1 and starts[-1] == d else 0
                self._grouped = _Grouped(starts, equal)
        self._cache = {}

    def _apply(self, fn, recurse=True):  # .to(), .cuda(), .half(): derived tensors follow
        result = super()._apply(fn, recurse)
        self._refresh()
        return result

    def _cached(self, name: str, build):
        value = self._cache.get(name)
        if value is None:
            value = self._cache[name] = build()
        return value

    def _mask(self) -> torch.Tensor:
        """(h, alpha, d) 0/1 in the weight's dtype: position (i, j) live in child c."""
        def build():
            arange = torch.arange(self.alpha, device=self.child.device)
            member = self.child[:, None, :] == arange[None, :, None]
            return member.to(self.weight.dtype)
        # A multiply by a 0/1 float mask, not torch.where or masked_fill on a bool mask: on CPU
        # those were 5-20x slower than the multiply for this broadcast.
        return self._cached("mask", build)

    def _live(self) -> torch.Tensor | None:
        """(h, d) 1 where a weight is live, 0 where pruned, in the weight's dtype; None when
        nothing is pruned. Multiplies gradients (inf or NaN gradients at pruned positions would
        stay NaN, as in any product)."""
        if self._pruned is None:
            return None
        return self._cached("live", lambda: (~self._pruned).to(self.weight.dtype))

    # -- pruning bookkeeping, like MaskedLinear --

    @torch.no_grad()
    def apply_mask_(self) -> None:
        """Zero every pruned weight in place (call after each optimizer step)."""
        if self._pruned is not None:
            self.weight.masked_fill_(self._pruned, 0.0)

    def nnz(self) -> int:
        return int(torch.count_nonzero(self.weight.detach().masked_fill(self.child < 0, 0.0)))

    # -- forward --

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise SatbenchError(f"input: expected last dimension {self.in_features}, got "
                                f"{tuple(x.shape)}")
        if x.dtype != self.weight.dtype:
            raise RuntimeError(f"FPELinear: input dtype {x.dtype} does not match the weight's "
                               f"{self.weight.dtype}")
        fmt, backend = self.resolve(x.device, x.numel() // self.in_features)
        if (fmt, backend) != (self.format_used, self.backend_used):
            self.format_used, self.backend_used = fmt, backend
            if self._logged != (fmt, backend, x.device.type):
                self._logged = (fmt, backend, x.device.type)
                log.info("FPELinear(d=%d, h=%d, alpha=%d): format %s (requested %s, %s split) "
                         "via %s on %s", self.in_features, self.parents, self.alpha, fmt,
                         self.format, "shared" if self.shared else "per-parent", backend,
                         x.device.type)
        lead = x.shape[:-1]
        x = x.reshape(-1, self.in_features)
        if fmt == "grouped":
            y = self._grouped_forward(x)
        else:
            if not self._identity:
                x = _Permute.apply(x, self.perm, self._inverse)
            if fmt == "masked":
                expanded = self.weight[:, None, :] * self._mask()
                y = F.linear(x, expanded.view(self.out_features, self.in_features), self.bias)
            elif fmt == "csr":
                y = self._csr_forward(x)
            elif backend == "torch":
                index = self._cached("index", lambda: self.child.clamp(min=0).to(torch.int64))
                y = _ChildLabelTorch.apply(x, self.weight, self.bias, self._mask(), index,
                                           self._live(), self.alpha)
            else:
                y = _ChildLabelTriton.apply(x, self.weight, self.bias, self.child, self.alpha)
        return y.reshape(*lead, self.out_features)

    def _grouped_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._grouped is None:  # storage is not grouped (format was changed by hand)
            self._relayout(True)
        perm = None if self._identity else self.perm
        if torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad or (
                self.bias is not None and self.bias.requires_grad)):
            return _GroupedFn.apply(x, self.weight, self.bias, perm, self._inverse,
                                    self._live(), self._grouped, self.alpha)
        return _grouped_product(x, self.weight, self.bias, perm, self._grouped, self.alpha)[0]

    def _csr_structure(self):
        h, d, alpha = self.parents, self.in_features, self.alpha
        live = self.child >= 0
        i, j = live.nonzero(as_tuple=True)
        row = i * alpha + self.child[i, j].to(torch.int64)
        order = torch.argsort(row * d + j)
        counts = torch.bincount(row, minlength=h * alpha)
        crow = torch.zeros(h * alpha + 1, dtype=torch.int64, device=self.child.device)
        crow[1:] = torch.cumsum(counts, 0)
        return crow, j[order], (i * d + j)[order]

    def _csr_forward(self, x: torch.Tensor) -> torch.Tensor:
        crow, col, source = self._cached("csr", self._csr_structure)
        values = self.weight.view(-1).index_select(0, source)
        dtype = x.dtype
        if x.device.type == "cpu" and dtype not in (torch.float32, torch.float64):
            values, x = values.float(), x.float()  # MKL's CSR matmul has no half precision
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            matrix = torch.sparse_csr_tensor(crow, col, values, (self.out_features,
                                                                 self.in_features),
                                             check_invariants=False)
            y = torch.sparse.mm(matrix, x.t()).t()
        y = y.to(dtype)
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, parents={self.parents}, alpha={self.alpha}, "
                f"bias={self.bias is not None}, format={self.format}, "
                f"split={'shared' if self.shared else 'per-parent'}, "
                f"format_used={self.format_used}, backend_used={self.backend_used}")


def fpe_mlp(model, alpha: int, format: str = "auto", backend: str = "auto"):
    """A copy of an (expanded) MLP whose first layer is an FPELinear in the given format."""
    import copy

    layer = FPELinear.from_masked_linear(model.fc1, alpha, format=format, backend=backend)
    clone = copy.deepcopy(model)
    clone.fc1 = layer
    return clone

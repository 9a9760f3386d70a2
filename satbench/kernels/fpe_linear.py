"""FPELinear: an FPE-expanded first layer, stored in the parent's shape, in one fixed format.

After FPE's split and pruning, the expanded weight W' (alpha*h, d) has at most one live entry per
(parent i, input j): input j of parent i feeds exactly one child, child[i, j]. So the layer is
stored losslessly in the parent's shape:

- `weight` (h, d) Parameter: the live weight of each position (exactly 0 where pruned);
- `child` (h, d) int8 buffer: the child a position feeds, -1 where it is pruned;
- `bias` (alpha*h,) Parameter or None;
- `perm` (d,) int64 buffer: storage column s holds input perm[s]. It is the identity except in the
  `grouped` format, which keeps each child's inputs contiguous.

Child c of parent i is output unit i*alpha + c in every format, as in satbench.models.fpe.

Formats (satbench.kernels.formats.FORMATS):
- masked: the dense (alpha*h, d) weight times a 0/1 mask, then F.linear. The reference; costs
  about alpha times the dense parent layer (alpha times the FLOPs, plus building W').
- grouped: shared splits only (one partition for all parents: random-shared, contiguous, clause);
  alpha dense blocks of the column-permuted weight (satbench.kernels.grouped).
- child_label: per-parent splits; a Triton kernel where it can run, else the same math in torch
  (satbench.kernels.child_label).
- csr: torch.sparse CSR matmul; a baseline only (satbench.kernels.csr).

The format and the child_label backend are fixed when the layer is built, and with them the
storage layout: nothing re-lays out a live layer's parameters, so an optimizer built on them stays
valid. To use another format, build another layer (`reformatted`, or FPELinear.from_masked on
`expanded_weight()` and `expanded_mask()`) and build its optimizer after. format="auto" resolves
once, at construction, with select_format for the layer's size and split, the device the layer is
built on (`device`, default the weight's) and, when given, `batch`, the rows per forward call
(only the CPU's choice between masked and grouped depends on it; without it, auto picks masked for
a shared split only where grouped cannot pay at any batch). A layer moved to another device keeps
its format; one built with the Triton backend refuses to run where Triton cannot.

A state dict loads into a layer of any format and computes the same function: the incoming weight
and labels are permuted into this layer's layout. Labels that do not fit a `grouped` layer's
layout (a different partition) are refused: build a new layer for them.

The format and backend that ran last are in `format_used` and `backend_used`, and a log line on
the `satbench.kernels` logger says so whenever they change.
"""

import copy
import logging

import torch
import torch.nn.functional as F
from torch import nn

from satbench.errors import SatbenchError
from satbench.kernels.child_label import ChildLabelTorch, ChildLabelTriton
from satbench.kernels.csr import csr_linear, csr_structure
from satbench.kernels.formats import FORMAT_CHOICES, MAX_ALPHA, resolve_format, triton_usable
from satbench.kernels.grouped import grouped_blocks, grouped_linear, grouped_order, shared_partition
from satbench.models.masked_linear import MaskedLinear

log = logging.getLogger("satbench.kernels")

# FORMAT_CHOICES lives in satbench.kernels.formats; it is re-exported for callers that still
# import it from here (satbench.cli).
__all__ = ["FORMAT_CHOICES", "FPELinear", "fpe_mlp"]


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


class FPELinear(nn.Module):
    """An FPE-expanded layer y = x @ W'.T + bias with W' (alpha*h, d), stored parent-shaped.

    weight: (h, d) parent weights; child: (h, d) integer labels, input j of parent i feeding
    child child[i, j] in [0, alpha) (or -1: pruned); mask: optional (h, d) bool, False = pruned;
    bias: (alpha*h,) or None. format: one of FORMAT_CHOICES; backend (child_label only): "auto"
    (Triton where it can run on `device`, else torch), "triton" or "torch". device: where the
    layer is built (default: the weight's device), which `auto` resolves for; batch: the rows per
    forward call, if known, which `auto` resolves for on the CPU. Both are fixed here: see the
    module docstring.
    """

    def __init__(self, weight: torch.Tensor, child, alpha: int, bias: torch.Tensor | None = None,
                 *, mask=None, format: str = "auto", backend: str = "auto", device=None,
                 batch: int | None = None):
        super().__init__()
        weight = torch.as_tensor(weight).detach()
        if weight.ndim != 2 or not weight.dtype.is_floating_point:
            raise SatbenchError(f"weight: expected a 2-D float tensor (h, d), got shape "
                                f"{tuple(weight.shape)} and dtype {weight.dtype}")
        if isinstance(alpha, bool) or not isinstance(alpha, int) or not 1 <= alpha <= MAX_ALPHA:
            raise SatbenchError(f"alpha: expected an integer in 1..{MAX_ALPHA}, got {alpha!r}")
        if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int)
                                  or batch < 0):
            raise SatbenchError(f"batch: expected a non-negative integer or None, got {batch!r}")
        if device is not None:
            weight = weight.to(device)
        h, d = weight.shape
        self.alpha, self.parents = alpha, h
        self.in_features, self.out_features = d, alpha * h
        labels = _as_labels(child, mask, weight.shape, alpha, weight.device)
        partition = shared_partition(labels)
        self.requested_format, self.requested_backend = format, backend
        self._format, self._backend = resolve_format(
            format, backend, shared=partition is not None, device=weight.device, d=d, h=h,
            alpha=alpha, batch=batch)
        perm = (grouped_order(partition, alpha) if self._format == "grouped"
                else torch.arange(d, device=weight.device))
        live_weight = weight.masked_fill(labels < 0, 0.0)
        if self._format == "grouped":
            live_weight, labels = live_weight[:, perm], labels[:, perm]
        self.weight = nn.Parameter(live_weight.contiguous())
        if bias is not None:
            bias = torch.as_tensor(bias).detach().to(weight.device, weight.dtype)
            if tuple(bias.shape) != (alpha * h,):
                raise SatbenchError(f"bias: expected shape ({alpha * h},), got "
                                    f"{tuple(bias.shape)}")
            self.bias = nn.Parameter(bias.clone())
        else:
            self.register_parameter("bias", None)
        self.register_buffer("child", labels.contiguous())
        self.register_buffer("perm", perm)
        self.format_used: str | None = None
        self.backend_used: str | None = None
        self._logged = None
        self._refresh()

    # -- construction from and to the masked form --

    @classmethod
    def from_masked(cls, weight: torch.Tensor, mask, alpha: int,
                    bias: torch.Tensor | None = None, **kwargs) -> "FPELinear":
        """From an expanded (alpha*h, d) weight and its bool mask (rows i*alpha + c); kwargs go
        to the constructor (format, backend, device, batch)."""
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

    def reformatted(self, format: str = "auto", backend: str = "auto", *, device=None,
                    batch: int | None = None) -> "FPELinear":
        """A new layer computing the same function in another format, with new parameters (copies
        of this layer's): build its optimizer after. This layer is left as it is."""
        bias = None if self.bias is None else self.bias.detach()
        return FPELinear(self.parent_weight(), self.labels(), self.alpha, bias, format=format,
                         backend=backend, device=device, batch=batch)

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

    # -- the format, fixed at construction --

    @property
    def format(self) -> str:
        """The concrete format this layer computes in (`requested_format` is what was asked)."""
        return self._format

    @property
    def backend(self) -> str:
        """How child_label runs: "triton" or "torch" ("torch" for every other format)."""
        return self._backend

    @property
    def shared(self) -> bool:
        """Whether one partition serves every parent (the grouped format applies)."""
        return self._partition is not None

    def resolve(self, device) -> tuple[str, str]:
        """(format, backend) a forward on `device` runs: this layer's format, and its backend as
        it runs there ("triton-interpreter" for Triton on CPU tensors)."""
        if self._backend != "triton":
            return self._format, "torch"
        device = torch.device(device)
        if not triton_usable(device):
            raise SatbenchError(
                f"backend 'triton': cannot run on {device.type} tensors (needs CUDA, or CPU "
                "tensors with TRITON_INTERPRET=1 set before satbench.kernels is first used); "
                "build the layer with backend 'auto' or 'torch' to run it there")
        return self._format, "triton-interpreter" if device.type == "cpu" else "triton"

    # -- derived state --

    @torch.no_grad()
    def _refresh(self) -> None:
        """Recompute what derives from child and perm (after construction, a state-dict load or a
        move to another device or dtype)."""
        d = self.in_features
        self._identity = bool(torch.equal(self.perm, torch.arange(d, device=self.perm.device)))
        self._inverse = torch.argsort(self.perm)
        partition_storage = shared_partition(self.child)
        # the partition in input order, independent of the layout
        self._partition = (None if partition_storage is None
                           else partition_storage[self._inverse])
        self._pruned = (self.child < 0) if bool((self.child < 0).any()) else None
        self._grouped = grouped_blocks(partition_storage, self.alpha)
        self._cache = {}

    def _apply(self, fn, recurse=True):  # .to(), .cuda(), .half(): derived tensors follow
        result = super()._apply(fn, recurse)
        self._refresh()
        return result

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        state_dict = self._into_layout(state_dict, prefix, error_msgs)
        if state_dict is None:
            return
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        self._refresh()
        self.apply_mask_()

    @torch.no_grad()
    def _into_layout(self, state_dict, prefix: str, error_msgs: list):
        """`state_dict` with this layer's weight and child permuted from the layout its `perm`
        says into this layer's (a shallow copy; the caller's dict is not changed), or None (with
        an error message) when it cannot be loaded into this layer's layout."""
        keys = {name: prefix + name for name in ("weight", "child", "perm")}
        incoming = state_dict.get(keys["perm"])
        d = self.in_features
        if incoming is None or tuple(incoming.shape) != (d,):
            return state_dict  # torch reports the missing or misshapen entry
        incoming = incoming.to(self.perm.device, torch.int64)
        if not torch.equal(torch.sort(incoming).values, torch.arange(d, device=incoming.device)):
            error_msgs.append(f"{keys['perm']}: not a permutation of 0..{d - 1}")
            return None
        state = dict(state_dict)
        if not torch.equal(incoming, self.perm):
            take = torch.argsort(incoming)[self.perm]  # incoming column of each storage column
            for name in ("weight", "child"):
                tensor = state.get(keys[name])
                if tensor is not None and tensor.ndim == 2 and tensor.shape[1] == d:
                    state[keys[name]] = tensor[:, take.to(tensor.device)]
            state[keys["perm"]] = self.perm.clone()
        child = state.get(keys["child"])
        if self._format == "grouped" and child is not None and tuple(child.shape) == (
                self.parents, d):
            stored = shared_partition(child.to(self.child.device))
            if grouped_blocks(stored, self.alpha) is None:
                error_msgs.append(
                    f"{keys['child']}: these labels are not the shared split this 'grouped' "
                    "layer was laid out for (a layer's format and layout are fixed when it is "
                    "built); build a new FPELinear from them instead")
                return None
        return state

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
        fmt, backend = self.resolve(x.device)
        if (fmt, backend) != (self.format_used, self.backend_used):
            self.format_used, self.backend_used = fmt, backend
            if self._logged != (fmt, backend, x.device.type):
                self._logged = (fmt, backend, x.device.type)
                log.info("FPELinear(d=%d, h=%d, alpha=%d): format %s (requested %s, %s split) "
                         "via %s on %s", self.in_features, self.parents, self.alpha, fmt,
                         self.requested_format, "shared" if self.shared else "per-parent",
                         backend, x.device.type)
        lead = x.shape[:-1]
        x = x.reshape(-1, self.in_features)
        # Only grouped permutes storage; every other format keeps it in input order.
        if fmt == "grouped":
            y = grouped_linear(x, self.weight, self.bias, None if self._identity else self.perm,
                               self._inverse, self._live(), self._grouped, self.alpha)
        elif fmt == "masked":
            expanded = self.weight[:, None, :] * self._mask()
            y = F.linear(x, expanded.view(self.out_features, self.in_features), self.bias)
        elif fmt == "csr":
            structure = self._cached("csr", lambda: csr_structure(self.child, self.alpha))
            y = csr_linear(x, self.weight, self.bias, structure, self.out_features)
        elif backend == "torch":
            index = self._cached("index", lambda: self.child.clamp(min=0).to(torch.int64))
            y = ChildLabelTorch.apply(x, self.weight, self.bias, self._mask(), index,
                                      self._live(), self.alpha)
        else:
            y = ChildLabelTriton.apply(x, self.weight, self.bias, self.child, self.alpha)
        return y.reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, parents={self.parents}, alpha={self.alpha}, "
                f"bias={self.bias is not None}, format={self.format}, "
                f"requested_format={self.requested_format}, backend={self.backend}, "
                f"split={'shared' if self.shared else 'per-parent'}, "
                f"format_used={self.format_used}, backend_used={self.backend_used}")


def fpe_mlp(model, alpha: int, format: str = "auto", backend: str = "auto", *, device=None,
            batch: int | None = None):
    """A copy of an (expanded) MLP whose first layer is an FPELinear built in the given format
    (device and batch: what `auto` resolves for, as in FPELinear; with device, the copy is moved
    there)."""
    layer = FPELinear.from_masked_linear(model.fc1, alpha, format=format, backend=backend,
                                         device=device, batch=batch)
    clone = copy.deepcopy(model)
    clone.fc1 = layer
    return clone if device is None else clone.to(device)

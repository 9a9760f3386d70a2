"""Which FPELinear formats exist, whether Triton can run, and which format `auto` picks.

The names here are the vocabulary every other kernel module and the training code share; nothing
in this module computes a layer. `resolve_format` is the one place a requested format and backend
become concrete ones: FPELinear calls it once, when it is built.
"""

import torch

from satbench.errors import SatbenchError

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


def triton_module():
    """The child_label kernels module, or None when triton cannot be imported. Imported on first
    use, not with the package, because triton is optional and slow to import."""
    global _TRITON
    if _TRITON is None:
        try:
            from satbench.kernels import triton_child_label
            _TRITON = triton_child_label
        except Exception as error:  # ImportError, or a triton that fails on import
            _TRITON = error
    return None if isinstance(_TRITON, BaseException) else _TRITON


def triton_import_error() -> BaseException | None:
    """Why triton cannot be imported (None when it can)."""
    triton_module()
    return _TRITON if isinstance(_TRITON, BaseException) else None


def triton_importable() -> bool:
    return triton_module() is not None


def triton_interpreting() -> bool:
    """True when the kernels were compiled for triton's CPU interpreter (TRITON_INTERPRET=1)."""
    module = triton_module()
    return module is not None and module.INTERPRETING


def triton_usable(device) -> bool:
    """Whether the child_label kernel can run on tensors of `device`."""
    device = torch.device(device)
    module = triton_module()
    if module is None:
        return False
    return (device.type == "cpu") == module.INTERPRETING and device.type in ("cpu", "cuda")


# --- what `auto` picks ---------------------------------------------------------------------------

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


def grouped_pays_on_cpu(d: int, h: int, alpha: int, batch: int | None) -> bool:
    """Whether `grouped` is expected to beat `masked` on the CPU for this layer and batch.

    batch None (not known): whether it can at some batch, i.e. each child skips enough inputs and
    the layer has enough outputs; the batch-dependent bounds are then not checked.
    """
    if d - d // alpha < GROUPED_MIN_SKIPPED or alpha * h < GROUPED_MIN_OUTPUTS:
        return False
    if batch is None:
        return True
    saved = (alpha - 1) * h * d * (batch + GROUPED_BUILD_ROWS)
    return saved >= GROUPED_MIN_SAVED and batch * alpha * h <= GROUPED_MAX_OUTPUT


def select_format(shared: bool, device, *, d: int | None = None, h: int | None = None,
                  alpha: int | None = None, batch: int | None = None) -> str:
    """The format `auto` picks.

    Shared split: grouped, except on the CPU when the layer size (d inputs, h parents, alpha) is
    given and grouped_pays_on_cpu says masked is faster there for `batch` (when batch is None: at
    every batch). Per-parent split: child_label where its Triton kernel runs natively (CUDA), else
    CPU_PER_PARENT_FORMAT.
    """
    device = torch.device(device)
    if shared:
        sized = None not in (d, h, alpha)
        if device.type == "cpu" and sized and not grouped_pays_on_cpu(d, h, alpha, batch):
            return "masked"
        return "grouped"
    if device.type == "cuda" and triton_usable(device):
        return "child_label"
    return CPU_PER_PARENT_FORMAT


def resolve_format(format: str, backend: str, *, shared: bool, device, d: int, h: int,
                   alpha: int, batch: int | None = None) -> tuple[str, str]:
    """The concrete (format, backend) a layer with this split and size is built in.

    format and backend as requested (FORMAT_CHOICES, BACKENDS); `auto` resolves for `device` and
    `batch` (rows per forward call; None: not known) with select_format. The backend is "triton"
    or "torch": triton only for child_label, where requested or (auto) where it can run on
    `device`. An explicit "triton" is refused only when triton cannot be imported; whether it can
    run on the tensors it gets is checked when it runs.
    """
    if format not in FORMAT_CHOICES:
        raise SatbenchError(f"format: expected one of {', '.join(FORMAT_CHOICES)}, "
                            f"got {format!r}")
    if backend not in BACKENDS:
        raise SatbenchError(f"backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "triton" and not triton_importable():
        raise SatbenchError(f"backend 'triton': triton cannot be imported "
                            f"({triton_import_error()})")
    if format == "grouped" and not shared:
        raise SatbenchError("format 'grouped': needs a shared split (every parent with the "
                            "same partition of the inputs), but the child labels differ "
                            "between parents; use 'child_label', 'masked' or 'auto'")
    if format == "auto":
        format = select_format(shared, device, d=d, h=h, alpha=alpha, batch=batch)
    if format != "child_label":
        return format, "torch"
    if backend == "auto":
        backend = "triton" if triton_usable(device) else "torch"
    return format, backend

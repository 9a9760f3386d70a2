"""Fast formats for FPE-expanded layers: FPELinear and its Triton child_label kernel.

Triton is optional (the `kernels` extra): without it, or without a GPU, every format still runs,
child_label through its pure-torch implementation, and FPELinear says which format and backend ran.

Modules: formats (format names, Triton availability, what `auto` picks), fpe_linear (the layer),
grouped, child_label and csr (one format's computation each) and triton_child_label (the Triton
kernels).
"""

from satbench.kernels.formats import (
    BACKENDS,
    CPU_PER_PARENT_FORMAT,
    FORMAT_CHOICES,
    FORMATS,
    select_format,
    triton_importable,
    triton_interpreting,
    triton_usable,
)
from satbench.kernels.fpe_linear import FPELinear, fpe_mlp
from satbench.kernels.grouped import shared_partition

__all__ = [
    "BACKENDS", "CPU_PER_PARENT_FORMAT", "FORMATS", "FORMAT_CHOICES", "FPELinear", "fpe_mlp",
    "select_format", "shared_partition", "triton_importable", "triton_interpreting",
    "triton_usable",
]

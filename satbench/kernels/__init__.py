"""Fast formats for FPE-expanded layers: FPELinear and its Triton child_label kernel.

Triton is optional (the `kernels` extra): without it, or without a GPU, every format still runs,
child_label through its pure-torch implementation, and FPELinear says which format and backend ran.
"""

from satbench.kernels.fpe_linear import (
    BACKENDS,
    CPU_PER_PARENT_FORMAT,
    FORMAT_CHOICES,
    FORMATS,
    FPELinear,
    fpe_mlp,
    select_format,
    shared_partition,
    triton_importable,
    triton_interpreting,
    triton_usable,
)

__all__ = [
    "BACKENDS", "CPU_PER_PARENT_FORMAT", "FORMATS", "FORMAT_CHOICES", "FPELinear", "fpe_mlp",
    "select_format", "shared_partition", "triton_importable", "triton_interpreting",
    "triton_usable",
]

"""The numeric mode: which CPU code paths torch, MKL, oneDNN, numpy and OpenBLAS compute on.

Why it matters: the libraries pick their kernels at run time from the CPU's instruction sets, and
the kernels round differently. ATen's vectorised transcendentals (sigmoid, log1p, the normal
sampler) and its reductions (summed in vector-width lanes) differ between AVX2 and AVX-512; MKL's
and OpenBLAS's matrix products block and fuse differently per microarchitecture. A ReLU network
amplifies such round-off into other weights and, sometimes, other accuracies. So a reference
computed on one CPU would not reproduce bit for bit on another.

Modes, chosen by the environment variable SATBENCH_NUMERIC_MODE before satbench loads torch or
numpy (in practice: before `import satbench`, which applies it):
- `portable` (the default on x86-64; elsewhere `native` is): every library on one fixed code path
  for x86-64-v3 (AVX2 and FMA, which satbench needs anyway: polars' wheels require them), the same
  on every such CPU, Intel or AMD, AVX2 or AVX-512: ATen's AVX2 kernels, MKL's COMPATIBLE branch of
  its conditional numerical reproducibility (its AVX2 branch still differs between vendors), oneDNN
  capped at AVX2, numpy's SIMD up to X86_V3, OpenBLAS's Haswell kernels. MKL's square root, which
  ignores the branch, is avoided (satbench.models.adam). The cost, measured side by side, is in the
  README (benchmarks/numeric_mode.py).
- `native`: whatever the CPU offers, as torch and numpy do by default; faster, and its bits
  depend on the CPU. `satbench verify` judges rows of another platform by their report.

The pins are environment variables that each library reads once, when it loads or first
computes; they are inherited by every process satbench starts (pool workers fork from the CLI,
Ray workers get them through their runtime environment, see environment()).
"""

import os
import platform
import sys

from satbench.errors import SatbenchError

MODE_VARIABLE = "SATBENCH_NUMERIC_MODE"
MODES = ("portable", "native")
# The pins are x86-64's: elsewhere (an Arm Mac, say) the CPU's own paths are all there is.
DEFAULT_MODE = "portable" if platform.machine().lower() in ("x86_64", "amd64") else "native"
# What `portable` pins, by variable. Each is the library's own documented switch.
PORTABLE_PINS = {
    "ATEN_CPU_CAPABILITY": "avx2",  # ATen's AVX2 kernels, also on an AVX-512 CPU
    "MKL_CBWR": "COMPATIBLE",  # MKL's SSE2 branch, identical on every x86-64 CPU
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN's primitives, capped at AVX2
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # numpy's SIMD up to X86_V3
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's OpenBLAS on its AVX2 kernels
}
PORTABLE_CAPABILITY = "AVX2"  # what ATen must dispatch to under the pins
# Libraries that read the pins when they load: a pin set after they loaded has no effect.
PINNED_LIBRARIES = ("torch", "numpy")


class NumericModeError(SatbenchError):
    pass


def requested_mode() -> str:
    """The mode SATBENCH_NUMERIC_MODE asks for (portable when unset)."""
    mode = os.environ.get(MODE_VARIABLE, "").strip().lower() or DEFAULT_MODE
    if mode not in MODES:
        raise NumericModeError(f"{MODE_VARIABLE}: unknown numeric mode {mode!r}; known modes: "
                               f"{', '.join(MODES)}")
    return mode


def apply() -> None:
    """Set the pins of the requested mode in this process's environment, before the libraries
    load. Does nothing for `native` or an unknown mode (reported by mode() when it is used)."""
    try:
        mode = requested_mode()
    except NumericModeError:
        return
    if mode == "portable" and not any(name in sys.modules for name in PINNED_LIBRARIES):
        os.environ.update(PORTABLE_PINS)


def environment() -> dict[str, str]:
    """The variables a worker process needs to compute in this process's mode (for workers that
    do not inherit this environment, such as a Ray cluster's)."""
    current = mode()
    pins = {name: os.environ[name] for name in PORTABLE_PINS} if current == "portable" else {}
    return {MODE_VARIABLE: current, **pins}


def pins_in_effect() -> bool:
    """Whether every portable pin holds in this process: set in the environment and, for ATen,
    the kernels torch actually dispatches to (a pin set after torch loaded would not be)."""
    if any(os.environ.get(name) != value for name, value in PORTABLE_PINS.items()):
        return False
    import torch

    return torch.backends.cpu.get_cpu_capability() == PORTABLE_CAPABILITY


def mode() -> str:
    """The mode this process computes in: `portable` only when its pins are in effect. A process
    that asked for portable but loaded torch or numpy before satbench could pin them is refused,
    rather than recorded as portable."""
    wanted = requested_mode()
    if wanted == "portable" and not pins_in_effect():
        if cpu_capability() not in ("AVX2", "AVX512"):
            raise NumericModeError(
                f"numeric mode portable: this CPU ({cpu_capability()}) lacks AVX2 and FMA, "
                f"which the portable mode computes with; set {MODE_VARIABLE}=native")
        raise NumericModeError(
            "numeric mode portable: torch or numpy was loaded before satbench could pin their "
            "CPU code paths; import satbench before them, or set "
            f"{MODE_VARIABLE}=native to compute on the CPU's native paths")
    return wanted


def cpu_capability() -> str:
    """The highest instruction-set level of this CPU in torch's terms (AVX512, AVX2, DEFAULT), as
    the CPU reports it (numpy's CPUID probe), whatever the mode lets the libraries use."""
    from numpy._core._multiarray_umath import __cpu_features__ as features

    if all(features.get(name) for name in ("AVX512F", "AVX512BW", "AVX512VL", "AVX512DQ")):
        return "AVX512"
    if features.get("AVX2") and features.get("FMA3"):
        return "AVX2"
    return "DEFAULT"

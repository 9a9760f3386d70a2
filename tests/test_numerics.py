"""The portable numeric mode: the same bits whatever CPU the libraries think they run on.

Another CPU is emulated on this one in two ways: by capping the instruction sets that torch (ATen),
MKL, oneDNN, numpy and OpenBLAS dispatch to (the variables a CPU of an older generation would
leave them), and, where qemu-user is installed, by running under qemu emulating an Intel Haswell:
another vendor, whose CPUID every library's dispatch reads.
"""

import os
import shutil
import subprocess
import sys

import pytest

from satbench import numerics

# What the libraries see on an older CPU, by their own variables: no AVX2 for ATen, AVX at most
# for MKL and oneDNN, numpy's baseline, OpenBLAS's Sandy Bridge kernels, MKL on its AVX branch.
OLDER_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "AVX",
             "MKL_CBWR": "AVX", "ONEDNN_MAX_CPU_ISA": "AVX",
             "NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
             "OPENBLAS_CORETYPE": "Sandybridge"}
QEMU = shutil.which("qemu-x86_64")
INTEL_HASWELL = [QEMU, "-cpu", "Haswell"] if QEMU else None
# Kernels whose rounding depends on the code path: a transcendental, a reduction, a matrix
# product in float32 (MKL), one in float64 (numpy's OpenBLAS), the Adam step's square root.
FINGERPRINT = """
import hashlib
import satbench
import numpy as np
import torch
from satbench.models.adam import exact_sqrt

rng = np.random.default_rng(0)
a = torch.from_numpy(rng.standard_normal((64, 96)).astype(np.float32))
b = torch.from_numpy(rng.standard_normal((96, 16)).astype(np.float32))
parts = [torch.sigmoid(a), torch.exp(a), a.sum(dim=1), a @ b, a.T @ a, exact_sqrt(a.abs()),
         torch.from_numpy(a.double().numpy() @ b.double().numpy())]
print(satbench.numerics.mode(), hashlib.sha256(b"".join(
    p.contiguous().numpy().tobytes() for p in parts)).hexdigest())
"""


def fingerprint(mode: str, extra_env: dict | None = None, prefix: list | None = None) -> str:
    env = {name: value for name, value in os.environ.items()
           if name not in OLDER_CPU and name != numerics.MODE_VARIABLE}
    env |= {numerics.MODE_VARIABLE: mode, **(extra_env or {})}
    done = subprocess.run([*(prefix or []), sys.executable, "-c", FINGERPRINT], env=env,
                          capture_output=True, text=True, check=True, timeout=600)
    printed_mode, digest = done.stdout.split()
    assert printed_mode == mode
    return digest


def test_this_process_computes_in_the_portable_mode():
    assert numerics.mode() == "portable"
    assert numerics.pins_in_effect()
    assert all(os.environ[name] == value for name, value in numerics.PORTABLE_PINS.items())


def test_the_emulated_older_cpu_changes_the_native_bits():
    """The caps have teeth: the CPU's native paths round differently under them."""
    assert fingerprint("native") != fingerprint("native", OLDER_CPU)


def test_the_portable_bits_do_not_depend_on_the_cpu_the_libraries_see():
    assert fingerprint("portable") == fingerprint("portable", OLDER_CPU)


@pytest.mark.slow
@pytest.mark.skipif(QEMU is None, reason="qemu-user is not installed (apt-get install qemu-user)")
def test_the_portable_bits_are_the_same_on_an_emulated_intel_cpu():
    assert fingerprint("portable") == fingerprint("portable", prefix=INTEL_HASWELL)


def test_an_unknown_mode_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "satbench.cli", "inspect", "x.cnf"],
                          env={**os.environ, numerics.MODE_VARIABLE: "fast"}, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr == ("satbench: error: SATBENCH_NUMERIC_MODE: unknown numeric mode 'fast'; "
                           "known modes: portable, native\n")


def test_portable_is_refused_when_torch_loaded_before_satbench():
    code = "import torch\nimport satbench\nsatbench.numerics.mode()"
    env = {k: v for k, v in os.environ.items() if k not in numerics.PORTABLE_PINS}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "loaded before satbench could pin" in done.stderr


def test_rows_record_the_mode_and_the_cpu():
    from satbench.provenance import provenance

    row = provenance()
    assert row["numeric_mode"] == "portable"
    assert row["cpu_capability"] in ("AVX2", "AVX512")

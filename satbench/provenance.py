"""What produced a result: package version, git commit, torch version, device, torch threads."""

import functools
import platform
import subprocess
from pathlib import Path

import torch

import satbench

# What computes a result: the package and its declared dependencies. Changes elsewhere in the
# checkout (reports being regenerated, docs, tests) do not make a result's commit "dirty".
CODE_PATHS = ("satbench", "pyproject.toml", "constraints.txt")


@functools.cache
def git_commit() -> str:
    """HEAD of the checkout satbench runs from, with -dirty when its code (CODE_PATHS, untracked
    files included) differs from HEAD; unknown outside a git checkout."""
    root = Path(satbench.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *CODE_PATHS], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def device_name(device: torch.device | str = "cpu") -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.machine()})"


def provenance(device: torch.device | str = "cpu") -> dict:
    """The provenance columns of a result row. torch_threads is the intra-op thread count the
    caller runs on (training pins it: satbench.threads)."""
    return {"satbench_version": satbench.__version__, "git_commit": git_commit(),
            "torch_version": torch.__version__, "device": device_name(device),
            "torch_threads": torch.get_num_threads()}

"""What produced a result: package version, git commit, torch version, device, numeric mode, CPU
capability and torch threads."""

import functools
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

import satbench
from satbench import numerics

# What computes a result: the package and its declared dependencies. Changes elsewhere in the
# checkout (reports being regenerated, docs, tests) do not make a result's commit "dirty".
CODE_PATHS = ("satbench", "pyproject.toml", "constraints.txt")


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True,
                          timeout=10).stdout.strip()


def _checkout_commit(root: Path) -> str | None:
    """HEAD of satbench's own checkout at `root` (with -dirty when CODE_PATHS differ from it), or
    None when root is not the top of a git checkout: a satbench installed into a virtual
    environment inside some other repository must not record that repository's commit."""
    try:
        if Path(_git(root, "rev-parse", "--show-toplevel")).resolve() != root.resolve():
            return None
        dirty = _git(root, "status", "--porcelain", "--", *CODE_PATHS)
        return _git(root, "rev-parse", "HEAD") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _installed_commit() -> str | None:
    """The commit pip recorded when it installed satbench from a git URL (PEP 610
    direct_url.json), else None (a wheel, an sdist, or not installed)."""
    try:
        text = metadata.distribution("satbench").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        return (json.loads(text or "{}").get("vcs_info") or {}).get("commit_id")
    except ValueError:
        return None


@functools.cache
def git_commit() -> str:
    """The commit of the code that runs: satbench's own checkout when it runs from one (editable
    installs and source trees), else the commit pip recorded for a git install; `unknown` for a
    release wheel or sdist, whose version says what it is."""
    root = Path(satbench.__file__).resolve().parents[1]
    return _checkout_commit(root) or _installed_commit() or "unknown"


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
            "numeric_mode": numerics.mode(), "cpu_capability": numerics.cpu_capability(),
            "torch_threads": torch.get_num_threads()}

"""The committed reference reports are what the code computes now, on any x86-64 CPU.

Each report under reports/ names its committed results stores. Rendering it again from them must
give the committed text, and retraining stored runs must give the stored rows bitwise
(satbench.sweeps.verify; `satbench verify reports/<name>` runs the same check by hand). The
stores were computed in the portable numeric mode (satbench.numerics), which gives the same bits
on every x86-64-v3 CPU; the slow tier checks that by retraining under emulated CPUs too.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_numerics import INTEL_HASWELL, OLDER_CPU, QEMU

from satbench import numerics
from satbench.sweeps.executors import get_executor
from satbench.sweeps.verify import (
    render_differences,
    report_stores,
    retrain_differences,
    runs_to_verify,
    stored_runs,
)

ROOT = Path(__file__).resolve().parents[1]
REPORTS = sorted(path.parent.name for path in (ROOT / "reports").glob("*/report.md"))
# Runs retrained per store: all of the quick report (the README's main job), a spread sample of
# the larger ones, so that CI stays within minutes.
RETRAIN = {"quick": None, "paper": 2, "tuned-shared": 1, "budget": 1, "timing": 1,
           "output-scale": 1, "t2-3000": 1, "methods": 3}
TESTED_TORCH = next(line.split("==")[1].strip() for line in
                    (ROOT / "constraints.txt").read_text().splitlines()
                    if line.startswith("torch=="))
BITWISE = pytest.mark.skipif(
    torch.__version__.split("+")[0] != TESTED_TORCH,
    reason=f"the stores were computed with torch {TESTED_TORCH} (constraints.txt)")
SATBENCH = [sys.executable, "-m", "satbench.cli"]


def _slow_unless_quick(names):
    return [pytest.param(name, marks=() if name == "quick" else pytest.mark.slow)
            for name in names]


def test_every_committed_report_is_checked():
    assert REPORTS == sorted(RETRAIN)


def test_every_committed_row_was_computed_in_the_portable_mode():
    import polars as pl

    for name in REPORTS:
        for store in report_stores(ROOT / "reports" / name):
            modes = {pl.read_parquet(path, columns=["numeric_mode"])["numeric_mode"][0]
                     for path in (ROOT / store / "runs").glob("*.parquet")}
            assert modes == {"portable"}, store


@pytest.mark.parametrize("name", _slow_unless_quick(REPORTS))
def test_a_committed_report_renders_from_its_committed_stores(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # reports name their stores relative to the repository
    assert render_differences(Path("reports") / name) == []


@BITWISE
@pytest.mark.slow
@pytest.mark.parametrize("name", REPORTS)
def test_retrained_runs_give_the_stored_rows(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert numerics.mode() == "portable"
    for store in report_stores(Path("reports") / name):
        assert store.parts[0] == "reports" and (ROOT / store / "runs").is_dir(), \
            f"{store}: not a store committed under reports/"
        runs = runs_to_verify(store, RETRAIN[name])
        assert retrain_differences(store, runs, get_executor("local")) == []


@BITWISE
@pytest.mark.slow
def test_one_run_of_each_seed_method_retrains_to_its_stored_row(monkeypatch):
    """The spread sample above may miss the methods with their own training loops: one run of
    each (the first by key) from the methods report's store, trained again."""
    monkeypatch.chdir(ROOT)
    store = Path("reports/methods/results")
    runs = sorted(stored_runs(store).values(), key=lambda run: run.key)
    chosen = [next(run for run in runs if run.method == method)
              for method in ("bimt", "fixed_classifier", "tree_cc", "tree_dense")]
    assert retrain_differences(store, chosen, get_executor("local")) == []


def _verify(paths: list[str], runs: int, env: dict | None = None, prefix: list | None = None):
    environment = {name: value for name, value in os.environ.items() if name not in OLDER_CPU}
    return subprocess.run([*(prefix or []), *SATBENCH, "verify", *paths, "--runs", str(runs),
                           "--executor", "serial", "--no-progress"], cwd=ROOT,
                          env={**environment, **(env or {})}, capture_output=True, text=True,
                          timeout=3000)


@BITWISE
@pytest.mark.slow
def test_every_committed_report_verifies_bitwise_on_an_emulated_older_cpu():
    """One run of every store, retrained by `satbench verify` in a process whose libraries are
    capped as on an older CPU (their native bits differ there: tests/test_numerics.py)."""
    done = _verify([f"reports/{name}" for name in REPORTS], 1, OLDER_CPU)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.strip().endswith("what the code computes now, bit for bit")


@BITWISE
@pytest.mark.slow
@pytest.mark.skipif(QEMU is None, reason="qemu-user is not installed (apt-get install qemu-user)")
def test_a_committed_run_retrains_bitwise_on_an_emulated_intel_cpu():
    """Another vendor's CPU, emulated instruction by instruction: one run of the timing store
    (mini-batches of 256; a full-batch run of quick takes over ten minutes under emulation)."""
    done = _verify(["reports/timing/results"], 1, prefix=INTEL_HASWELL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.strip().endswith("bit for bit")

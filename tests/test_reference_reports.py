"""The committed reference reports are what the code computes now.

Each report under reports/ names its committed results stores. Rendering it again from them must
give the committed text, and retraining stored runs must give the stored rows bitwise
(satbench.sweeps.verify; `satbench verify reports/<name>` runs the same check by hand).
"""

from pathlib import Path

import pytest
import torch

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
# Bitwise agreement holds on the platform the stores were computed on (torch 2.13 on CPU, MKL,
# AVX-512: this project's development and CI machines). Another BLAS or CPU rounds some products
# differently, and round-off then changes trajectories (see satbench.sweeps.batched).
SAME_PLATFORM = (torch.__version__.startswith("2.13") and torch.backends.mkl.is_available()
                 and torch.backends.cpu.get_cpu_capability() == "AVX512")


def test_every_committed_report_is_checked():
    assert REPORTS == sorted(RETRAIN)


@pytest.mark.parametrize("name", REPORTS)
def test_a_committed_report_renders_from_its_committed_stores(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # reports name their stores relative to the repository
    assert render_differences(Path("reports") / name) == []


@pytest.mark.skipif(not SAME_PLATFORM, reason="bitwise agreement needs torch 2.13, MKL, AVX-512")
@pytest.mark.parametrize("name", REPORTS)
def test_retrained_runs_give_the_stored_rows(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    for store in report_stores(Path("reports") / name):
        assert store.parts[0] == "reports" and (ROOT / store / "runs").is_dir(), \
            f"{store}: not a store committed under reports/"
        runs = runs_to_verify(store, RETRAIN[name])
        assert retrain_differences(store, runs, get_executor("local")) == []


@pytest.mark.skipif(not SAME_PLATFORM, reason="bitwise agreement needs torch 2.13, MKL, AVX-512")
def test_one_run_of_each_seed_method_retrains_to_its_stored_row(monkeypatch):
    """The spread sample above may miss the methods with their own training loops: one run of
    each (the first by key) from the methods report's store, trained again."""
    monkeypatch.chdir(ROOT)
    store = Path("reports/methods/results")
    runs = sorted(stored_runs(store).values(), key=lambda run: run.key)
    chosen = [next(run for run in runs if run.method == method)
              for method in ("bimt", "fixed_classifier", "tree_cc", "tree_dense")]
    assert retrain_differences(store, chosen, get_executor("local")) == []

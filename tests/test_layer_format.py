"""Training and sweeps run FPE-structured first layers in the fastest format, and the format never
changes what is learned beyond round-off."""

import pytest
import torch

from satbench.errors import SatbenchError
from satbench.experiment import train_arms
from satbench.generators.dataset import build_dataset
from satbench.kernels import FPELinear
from satbench.kernels.layer_format import as_masked, planned_format, with_format
from satbench.specs import RunSpec, TaskSpec
from satbench.store import read_results
from satbench.sweeps.engine import make_jobs, run_sweep
from satbench.sweeps.executors import SerialExecutor
from satbench.sweeps.spec import SweepSpec

TASK = TaskSpec(n_vars=12, n_clauses=6, form="dnf", n_train=256, n_test=128, seed=3)
ARMS = ("dense", "fpe", "sparse_scratch")


def run_for(split: str) -> RunSpec:
    return RunSpec(TASK, neurons=4, alpha=2, split=split, warmup_steps=15, expanded_steps=15,
                   learning_rate=1e-2, batch_size=64, seed=5, arms=ARMS)


def test_the_default_sizes_train_masked_and_large_shared_layers_grouped():
    assert planned_format(run_for("clause")) == "masked"
    assert planned_format(run_for("random")) == "masked"
    big = TaskSpec(n_vars=128, n_clauses=8, form="dnf", n_train=4096, n_test=512)
    run = RunSpec(big, neurons=256, alpha=2, split="random-shared", batch_size=256)
    assert planned_format(run) == "grouped"  # d=128 inputs (pm1: one per variable)
    assert planned_format(run.replace(split="random")) == "masked"  # per-parent, on the CPU
    assert planned_format(run, "csr") == "csr"


def test_bad_formats_are_refused():
    with pytest.raises(SatbenchError, match="layer format: expected one of auto, masked"):
        planned_format(run_for("clause"), "sparse")
    with pytest.raises(SatbenchError, match="needs a shared split, but split 'random'"):
        planned_format(run_for("random"), "grouped")


@pytest.mark.parametrize("split, formats", [
    ("clause", ("grouped", "child_label", "csr")),
    ("random", ("child_label", "csr")),
])
def test_every_format_trains_the_same_arms(split, formats):
    dataset = build_dataset(TASK)
    run = run_for(split)
    reference = {arm.method: arm for arm in train_arms(run, dataset, "masked")}
    assert {arm.layer_format for arm in reference.values()} == {"masked"}
    x = dataset.inputs("test")
    for fmt in formats:
        arms = {arm.method: arm for arm in train_arms(run, dataset, fmt)}
        for method, arm in arms.items():
            expected = reference[method].model
            assert arm.layer_format == (fmt if method in ("fpe", "sparse_scratch") else "masked")
            # training converts back: evaluation and storage see MaskedLinear layers
            assert not isinstance(arm.model.fc1, FPELinear)
            assert torch.equal(arm.model.fc1.mask, expected.fc1.mask)
            assert arm.model.nnz_weights() == expected.nnz_weights()
            for mine, theirs in zip(arm.model.parameters(), expected.parameters(), strict=True):
                torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
            with torch.no_grad():
                torch.testing.assert_close(arm.model(x), expected(x), rtol=1e-4, atol=1e-4)


def test_with_format_and_as_masked_round_trip():
    dataset = build_dataset(TASK)
    model = {a.method: a.model for a in train_arms(run_for("clause"), dataset, "masked")}["fpe"]
    assert with_format(model, 2, "masked") is model
    converted = with_format(model, 2, "grouped")
    assert isinstance(converted.fc1, FPELinear) and converted is not model
    x = dataset.inputs("test")
    with torch.no_grad():
        torch.testing.assert_close(converted(x), model(x), rtol=1e-5, atol=1e-6)
    back = as_masked(converted)
    assert torch.equal(back.fc1.mask, model.fc1.mask)
    assert torch.equal(back.fc1.effective_weight(), model.fc1.effective_weight())


def test_sweeps_route_other_formats_to_the_single_trainer_and_store_the_format(tmp_path):
    spec = SweepSpec.grid("tiny", neurons=(2,), clauses=(4,), alphas=(2,),
                          splits=("clause", "random"), seeds=1, n_vars=10, n_train=128,
                          n_test=64, warmup_steps=5, expanded_steps=5, arms=("dense", "fpe"))
    runs = spec.runs()
    assert [trainer for trainer, *_ in make_jobs(runs, "batched")] == ["batched"]
    jobs = make_jobs(runs, "batched", "child_label")
    assert sorted(trainer for trainer, *_ in jobs) == ["single", "single"]
    run_sweep(spec, tmp_path / "auto", SerialExecutor(), progress=False, trainer="batched")
    run_sweep(spec, tmp_path / "csr", SerialExecutor(), progress=False, trainer="batched",
              layer_format="csr")
    auto, csr = (read_results(tmp_path / name).sort("run_key", "method")
                 for name in ("auto", "csr"))
    assert auto["layer_format"].to_list() == ["masked"] * 4
    assert csr["layer_format"].to_list() == [
        "masked" if method == "dense" else "csr" for method in csr["method"]]
    for column in ("test_accuracy", "train_loss", "mean_abs_cos"):
        assert (auto[column] - csr[column]).abs().max() < 1e-4, column
    with pytest.raises(SatbenchError, match="needs a shared split"):
        run_sweep(spec, tmp_path / "x", SerialExecutor(), progress=False, layer_format="grouped")
    assert not (tmp_path / "x").exists()

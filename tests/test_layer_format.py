"""Training and sweeps run FPE-structured first layers in the fastest format, and the format never
changes what is learned beyond round-off."""

import pytest
import torch

from satbench.errors import SatbenchError
from satbench.generators.dataset import build_dataset
from satbench.kernels import FPELinear
from satbench.runs import RunSpec, runs_for
from satbench.specs import TaskSpec, TrainingContext
from satbench.store import read_results
from satbench.sweeps.engine import make_jobs, run_sweep
from satbench.sweeps.executors import SerialExecutor
from satbench.sweeps.spec import SweepSpec
from satbench.training.formats import as_masked, check_layer_format, planned_format, with_format
from satbench.training.single import train_runs

TASK = TaskSpec(n_vars=12, n_clauses=6, form="dnf", n_train=256, n_test=128, seed=3)
CONTEXT = TrainingContext(TASK, neurons=4, warmup_steps=15, expanded_steps=15,
                          learning_rate=1e-2, batch_size=64, seed=5)
METHODS = ("dense", "fpe", "sparse_scratch", "wide_dense")
STRUCTURED = ("fpe", "sparse_scratch")


def runs_with(split: str) -> list[RunSpec]:
    return runs_for(CONTEXT, METHODS, alpha=2, split=split)


def fpe_run(split: str) -> RunSpec:
    return RunSpec(CONTEXT, "fpe", {"alpha": 2, "split": split})


def test_the_default_sizes_train_masked_and_large_shared_layers_grouped():
    assert planned_format(fpe_run("clause")) == "masked"
    assert planned_format(fpe_run("random")) == "masked"
    big = TrainingContext(TaskSpec(n_vars=128, n_clauses=8, form="dnf", n_train=4096,
                                   n_test=512), neurons=256, batch_size=256)
    run = RunSpec(big, "fpe", {"alpha": 2, "split": "random-shared"})
    assert planned_format(run) == "grouped"  # d=128 inputs (pm1: one per variable)
    assert planned_format(RunSpec(big, "sparse_scratch", run.params)) == "grouped"
    assert planned_format(RunSpec(big, "fpe", {"split": "random"})) == "masked"  # per-parent
    assert planned_format(run, "csr") == "csr"


@pytest.mark.parametrize("method", ["dense", "dense_reset", "wide_dense"])
def test_methods_without_fpe_structure_always_train_masked(method):
    run = RunSpec(CONTEXT, method)
    for requested in ("auto", "masked", "grouped", "child_label", "csr"):
        assert planned_format(run, requested) == "masked"


def test_bad_formats_are_refused():
    with pytest.raises(SatbenchError, match="layer format: expected one of auto, masked"):
        planned_format(fpe_run("clause"), "sparse")
    with pytest.raises(SatbenchError, match="layer format: expected one of auto, masked"):
        planned_format(RunSpec(CONTEXT, "dense"), "sparse")
    with pytest.raises(SatbenchError, match="needs a shared split, but split 'random'"):
        planned_format(fpe_run("random"), "grouped")
    with pytest.raises(SatbenchError, match="needs a shared split, but split 'random'"):
        check_layer_format(runs_with("random"), "grouped")
    check_layer_format(runs_with("clause"), "grouped")


@pytest.mark.parametrize("split, formats", [
    ("clause", ("grouped", "child_label", "csr")),
    ("random", ("child_label", "csr")),
])
def test_every_format_trains_the_same_methods(split, formats):
    dataset = build_dataset(TASK)
    runs = runs_with(split)
    reference = {t.run.method: t for t in train_runs(runs, dataset, "masked")}
    assert {t.layer_format for t in reference.values()} == {"masked"}
    x = dataset.inputs("test")
    for fmt in formats:
        trained = {t.run.method: t for t in train_runs(runs, dataset, fmt)}
        assert set(trained) == set(METHODS)
        for method, result in trained.items():
            expected = reference[method].model
            assert result.layer_format == (fmt if method in STRUCTURED else "masked")
            # training converts back: evaluation and storage see MaskedLinear layers
            assert not isinstance(result.model.fc1, FPELinear)
            assert torch.equal(result.model.fc1.mask, expected.fc1.mask)
            assert result.model.nnz_weights() == expected.nnz_weights()
            for mine, theirs in zip(result.model.parameters(), expected.parameters(),
                                    strict=True):
                torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)
            with torch.no_grad():
                torch.testing.assert_close(result.model(x), expected(x), rtol=1e-4, atol=1e-4)


def test_with_format_and_as_masked_round_trip():
    dataset = build_dataset(TASK)
    (trained,) = train_runs([fpe_run("clause")], dataset, "masked")
    model = trained.model
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
    spec = SweepSpec.grid("tiny", neurons=(2,), clauses=(4,), seeds=1, methods=("dense", "fpe"),
                          axes={"alpha": (2,), "split": ("clause", "random"), "n_vars": (10,),
                                "n_train": (128,), "n_test": (64,), "warmup_steps": (5,),
                                "expanded_steps": (5,)})
    runs = spec.runs()
    assert sorted(run.method for run in runs) == ["dense", "fpe", "fpe"]  # dense once
    assert [trainer for trainer, *_ in make_jobs(runs, "batched")] == ["batched"]
    # the fpe runs train in their format under the single-model trainer; dense stays batched
    jobs = make_jobs(runs, "batched", "child_label")
    assert sorted((trainer, sorted(r.method for r in group)) for trainer, group, _ in jobs) == [
        ("batched", ["dense"]), ("single", ["fpe", "fpe"])]
    run_sweep(spec, tmp_path / "auto", SerialExecutor(), progress=False, trainer="batched")
    run_sweep(spec, tmp_path / "csr", SerialExecutor(), progress=False, trainer="batched",
              layer_format="csr")
    auto, csr = (read_results(tmp_path / name).sort("run_key", "method")
                 for name in ("auto", "csr"))
    assert auto["run_key"].to_list() == csr["run_key"].to_list()  # the format is not in keys
    assert auto["layer_format"].to_list() == ["masked"] * 3
    assert csr["layer_format"].to_list() == [
        "masked" if method == "dense" else "csr" for method in csr["method"]]
    for column in ("test_accuracy", "train_loss", "mean_abs_cos"):
        assert (auto[column] - csr[column]).abs().max() < 1e-4, column
    with pytest.raises(SatbenchError, match="needs a shared split"):
        run_sweep(spec, tmp_path / "x", SerialExecutor(), progress=False, layer_format="grouped")
    assert not (tmp_path / "x").exists()

"""The two-phase experiment: shared start, exact budgets, determinism, and the `run` command."""

import hashlib
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import torch

from satbench.cli import main
from satbench.experiment import run_experiment, train_arms
from satbench.generators.dataset import build_dataset
from satbench.models import SplitContext, expand
from satbench.models.training import make_optimizer, train_steps
from satbench.rng import numpy_rng, torch_generator
from satbench.specs import ARMS, RunSpec, TaskSpec
from satbench.store import read_results

TASK = TaskSpec(n_vars=12, n_clauses=6, form="dnf", n_train=256, n_test=128, seed=3)
RUN = RunSpec(TASK, neurons=4, alpha=2, split="random", warmup_steps=30, expanded_steps=20,
              learning_rate=1e-2, batch_size=64, seed=5, arms=ARMS)


def weights(model) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


def test_every_arm_is_trained_and_fpe_keeps_the_dense_budget():
    arms = {arm.method: arm.model for arm in train_arms(RUN, build_dataset(TASK))}
    assert set(arms) == set(ARMS)
    budget = arms["dense"].nnz_weights()
    assert budget == TASK.n_inputs * 4 + 4 * TASK.n_outputs
    assert arms["fpe"].nnz_weights() == budget
    assert arms["sparse_scratch"].nnz_weights() == budget
    assert (arms["sparse_scratch"].fc1.mask == arms["fpe"].fc1.mask).all()
    assert arms["wide_dense"].width == arms["fpe"].width == 8
    assert arms["wide_dense"].nnz_weights() == 2 * budget


def test_fpe_expands_the_dense_model_exactly_as_it_stood_after_warm_up():
    dataset = build_dataset(TASK)
    run = RUN.replace(expanded_steps=0, arms=("dense", "fpe"))
    arms = {arm.method: arm.model for arm in train_arms(run, dataset)}
    # Rebuild the warm-up by hand from the documented streams: same init, same data order.
    from satbench.models import MLP

    dense = MLP(TASK.n_inputs, 4, 1, torch_generator(run.seed, "init"))
    train_steps(dense, make_optimizer(dense, run.learning_rate), dataset.inputs("train"),
                dataset.targets("train"), first_step=0, steps=run.warmup_steps,
                batch_size=run.batch_size, seed=run.seed)
    assert all(torch.equal(a, b) for a, b in zip(weights(dense), weights(arms["dense"]),
                                                 strict=True))
    expansion = expand(dense, 2, "random", SplitContext.for_formula(dataset.formula, "pm1"),
                       numpy_rng(run.seed, "split"), output_scale=run.output_scale)
    assert all(torch.equal(a, b) for a, b in zip(weights(expansion.model), weights(arms["fpe"]),
                                                 strict=True))


def test_same_spec_same_weights_in_this_and_another_process():
    first = {a.method: weights(a.model) for a in train_arms(RUN, build_dataset(TASK))}
    second = {a.method: weights(a.model) for a in train_arms(RUN, build_dataset(TASK))}
    for method in first:
        assert all(torch.equal(a, b) for a, b in zip(first[method], second[method], strict=True))
    code = ("import hashlib, torch; from tests.test_experiment import RUN, TASK; "
            "from satbench.experiment import train_arms; from satbench.generators.dataset import "
            "build_dataset; m = next(a.model for a in train_arms(RUN, build_dataset(TASK)) "
            "if a.method == 'fpe'); "
            "print(hashlib.sha256(b''.join(t.numpy().tobytes() for t in "
            "m.state_dict().values())).hexdigest())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    here = hashlib.sha256(b"".join(t.numpy().tobytes() for t in first["fpe"])).hexdigest()
    assert other == here


def test_rows_carry_spec_metrics_fingerprints_and_provenance():
    rows = run_experiment(RUN.replace(arms=("dense", "fpe")))
    assert [r["method"] for r in rows] == ["dense", "fpe"]
    for row in rows:
        for key in ("split", "alpha", "neurons", "clauses", "vars", "width", "form", "seed",
                    "test_accuracy", "train_accuracy", "nnz_weights", "mean_abs_cos",
                    "mean_abs_cos_shared_inputs", "capacity_total", "clause_integrity",
                    "task_fingerprint", "dataset_fingerprint", "satbench_version", "git_commit",
                    "torch_version", "device", "wall_seconds", "gram"):
            assert key in row, key
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert len(row["gram"]) == TASK.n_inputs**2


def test_run_command_stores_rows_and_finds_them_again(tmp_path, capsys):
    argv = ["run", "--vars", "12", "--clauses", "6", "--neurons", "4", "--split", "clause",
            "--steps", "20,20", "--train", "200", "--test", "100", "--out", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "fpe" in out.out and "gain vs dense" in out.out
    frame = read_results(tmp_path)
    assert sorted(frame["method"].to_list()) == ["dense", "fpe", "sparse_scratch", "wide_dense"]
    assert main(argv) == 0
    assert "already finished" in capsys.readouterr().err
    assert len(read_results(tmp_path)) == 4


@pytest.mark.parametrize("argv, message", [
    (["--split", "bogus"], "unknown splitter 'bogus'"),
    (["--alpha", "0"], "alpha: expected an integer >= 1"),
    (["--arms", "fpe,moe"], "arms: expected one of"),
    (["--arms", "fpe"], "dense baseline is required"),
    (["--output-scale", "half"], None),
    (["--steps", "10"], None),
])
def test_run_rejects_bad_arguments_with_status_2(tmp_path, capsys, argv, message):
    try:
        status = main(["run", "--out", str(tmp_path), *argv])
    except SystemExit as exit_info:  # argparse's own errors
        status = exit_info.code
    err = capsys.readouterr().err
    assert status == 2
    if message:
        assert message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_store_rows_are_readable_with_polars(tmp_path, capsys):
    main(["run", "--vars", "10", "--clauses", "4", "--neurons", "2", "--steps", "5,5",
          "--train", "100", "--test", "50", "--arms", "dense,fpe", "--out", str(tmp_path)])
    frame = read_results(tmp_path)
    assert frame.schema["test_accuracy"] == pl.Float64
    assert frame["nnz_weights"].n_unique() == 1

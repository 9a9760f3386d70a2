"""The two-phase experiment: shared start, exact budgets, determinism, and the `run` command."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import torch

from satbench.cli import main
from satbench.experiment import run_experiment, train_arms, training_steps
from satbench.generators.dataset import build_dataset
from satbench.models import SplitContext, expand
from satbench.models.training import make_optimizer, train_steps
from satbench.rng import numpy_rng, torch_generator
from satbench.specs import ARMS, RunSpec, TaskSpec
from satbench.store import read_results
from satbench.threads import TRAINING_THREADS

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


@pytest.mark.parametrize("callers_threads", [2, 3])
def test_training_runs_on_its_own_thread_count_whatever_the_caller_set(callers_threads):
    """Round-off depends on how an op splits between threads, so training pins the count."""
    reference = {a.method: weights(a.model) for a in train_arms(RUN, build_dataset(TASK))}
    before, seen = torch.get_num_threads(), set()
    torch.set_num_threads(callers_threads)
    try:
        arms = train_arms(RUN, build_dataset(TASK),
                          on_step=lambda n: seen.add(torch.get_num_threads()))
        rows = run_experiment(RUN.replace(arms=("dense",)))
        assert torch.get_num_threads() == callers_threads  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    assert seen == {TRAINING_THREADS}
    assert rows[0]["torch_threads"] == TRAINING_THREADS
    for arm in arms:
        assert all(torch.equal(a, b) for a, b in zip(weights(arm.model), reference[arm.method],
                                                     strict=True)), arm.method


def test_run_and_sweep_store_the_same_rows_whatever_the_thread_environment(tmp_path, capsys):
    """`satbench run` in a process with two OpenMP threads stores what a sweep stores."""
    flags = ["--vars", "16", "--clauses", "6", "--train", "1024", "--test", "256", "--steps",
             "40,40", "--neurons", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    subprocess.run([sys.executable, "-m", "satbench.cli", "run", *flags, "--no-progress",
                    "--out", str(tmp_path / "run")], check=True, env=env, capture_output=True,
                   cwd=Path(__file__).resolve().parents[1])
    assert main(["sweep", *flags, "--seeds", "1", "--alpha", "2", "--split", "clause",
                 "--executor", "serial", "--no-progress", "--no-report",
                 "--out", str(tmp_path / "sweep")]) == 0
    capsys.readouterr()
    drop = ["wall_seconds", "git_commit"]
    single, swept = (read_results(tmp_path / name).drop(drop).sort("run_key", "method")
                     for name in ("run", "sweep"))
    assert single["run_key"].n_unique() == 1 and single.equals(swept)


def test_run_shows_progress_over_every_training_step(tmp_path, capsys):
    argv = ["run", "--vars", "10", "--clauses", "4", "--neurons", "2", "--steps", "7,5",
            "--train", "64", "--test", "32", "--out", str(tmp_path)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    # dense 12, fpe 5, wide_dense 12, sparse_scratch 12 (the default arms)
    assert training_steps(run_spec_from_args_for(argv)) == 41
    assert "41/41" in err and "step" in err
    assert main([*argv, "--no-progress"]) == 0  # found stored: no bar, no training
    assert "41/41" not in capsys.readouterr().err


def run_spec_from_args_for(argv):
    from satbench.cli import build_parser, run_spec_from_args

    return run_spec_from_args(build_parser("run").parse_args(argv))


def test_rows_carry_spec_metrics_fingerprints_and_provenance():
    rows = run_experiment(RUN.replace(arms=("dense", "fpe")))
    assert [r["method"] for r in rows] == ["dense", "fpe"]
    for row in rows:
        for key in ("split", "alpha", "neurons", "clauses", "vars", "width", "form", "seed",
                    "test_accuracy", "train_accuracy", "nnz_weights", "mean_abs_cos",
                    "mean_abs_cos_shared_inputs", "capacity_total", "clause_integrity",
                    "task_fingerprint", "dataset_fingerprint", "satbench_version", "git_commit",
                    "torch_version", "device", "torch_threads", "wall_seconds", "gram"):
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


def test_only_code_changes_make_the_recorded_commit_dirty(tmp_path):
    """Regenerating reports, editing docs or tests must not mark results '-dirty'."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    code = "from satbench.provenance import git_commit; print(git_commit())"

    def commit() -> str:
        return subprocess.run([sys.executable, "-c", code], cwd=clone, capture_output=True,
                              text=True, check=True, env={**os.environ, "PYTHONPATH": str(clone)}
                              ).stdout.strip()

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True,
                          text=True, check=True).stdout.strip()
    (clone / "README.md").write_text("changed\n")
    (clone / "reports" / "new.md").write_text("a regenerated report\n")
    assert commit() == head
    (clone / "satbench" / "experiment.py").write_text("# changed\n", encoding="utf-8")
    assert commit() == head + "-dirty"

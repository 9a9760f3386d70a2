"""Training a context's methods: the shared start, exact budgets, determinism, methods trained
alone, and the `run` command."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import torch

from satbench.cli import main
from satbench.errors import SatbenchError
from satbench.generators.dataset import build_dataset
from satbench.methods import METHODS
from satbench.models import SplitContext, expand
from satbench.models.training import make_optimizer, train_steps
from satbench.registry import BUILT_IN
from satbench.rng import numpy_rng, torch_generator
from satbench.runs import RunSpec, runs_for
from satbench.specs import TaskSpec, TrainingContext
from satbench.store import read_results
from satbench.threads import TRAINING_THREADS
from satbench.training.rows import (
    FIRST_LAYER_METRICS,
    evaluate,
    first_layer_metrics,
    train_and_evaluate,
)
from satbench.training.single import train_runs, training_steps

ALL_METHODS = tuple(name for name in METHODS.names() if METHODS.origin(name) == BUILT_IN)
TASK = TaskSpec(n_vars=12, n_clauses=6, form="dnf", n_train=256, n_test=128, seed=3)
CONTEXT = TrainingContext(TASK, neurons=4, warmup_steps=30, expanded_steps=20,
                          learning_rate=1e-2, batch_size=64, seed=5)
RUNS = runs_for(CONTEXT, ALL_METHODS, alpha=2, split="random")


def weights(model) -> list[torch.Tensor]:
    return [t.detach().clone() for t in model.state_dict().values()]


def same_weights(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(weights(a), weights(b), strict=True))


def by_method(trained) -> dict:
    return {t.run.method: t for t in trained}


def test_every_method_is_trained_and_fpe_keeps_the_dense_budget():
    models = {m: t.model for m, t in by_method(train_runs(RUNS, build_dataset(TASK))).items()}
    assert set(models) == set(ALL_METHODS)
    budget = models["dense"].nnz_weights()
    assert budget == TASK.n_inputs * 4 + 4 * TASK.n_outputs
    assert models["fpe"].nnz_weights() == budget
    assert models["sparse_scratch"].nnz_weights() == budget
    assert (models["sparse_scratch"].fc1.mask == models["fpe"].fc1.mask).all()
    assert models["wide_dense"].width == models["fpe"].width == 8
    assert models["wide_dense"].nnz_weights() == 2 * budget
    assert models["dense_reset"].width == 4


def test_runs_come_back_in_the_order_given_and_the_order_changes_nothing():
    dataset = build_dataset(TASK)
    forward = train_runs(RUNS, dataset)
    backward = train_runs(RUNS[::-1], dataset)
    assert [t.run for t in forward] == RUNS and [t.run for t in backward] == RUNS[::-1]
    for mine, theirs in zip(forward, backward[::-1], strict=True):
        assert same_weights(mine.model, theirs.model), mine.run.method


def test_fpe_expands_the_dense_model_exactly_as_it_stood_after_warm_up():
    dataset = build_dataset(TASK)
    context = CONTEXT.replace(expanded_steps=0)
    trained = by_method(train_runs(runs_for(context, ("dense", "fpe"), alpha=2, split="random"),
                                   dataset))
    # Rebuild the warm-up by hand from the documented streams: same init, same data order.
    from satbench.models import MLP

    dense = MLP(TASK.n_inputs, 4, 1, torch_generator(context.seed, "init", cell=context.cell))
    train_steps(dense, make_optimizer(dense, context.learning_rate), dataset.inputs("train"),
                dataset.targets("train"), first_step=0, steps=context.warmup_steps,
                batch_size=context.batch_size, seed=context.seed, cell=context.cell)
    assert same_weights(dense, trained["dense"].model)
    fpe = trained["fpe"]
    expansion = expand(dense, 2, "random", SplitContext.for_formula(dataset.formula, "pm1"),
                       numpy_rng(context.seed, "split", cell=context.cell),
                       output_scale=fpe.run.params.output_scale)
    assert same_weights(expansion.model, fpe.model)


def row_text(row: dict) -> str:
    """A row as canonical JSON without its wall time (NaN == NaN here)."""
    return json.dumps({k: v for k, v in row.items() if k != "wall_seconds"}, sort_keys=True)


@pytest.mark.parametrize("alone", [("fpe",), ("dense_reset",), ("sparse_scratch",),
                                   ("fpe", "wide_dense")])
def test_a_method_trained_without_dense_gets_dense_trained_to_t1_internally(alone):
    """No dense run is required: the same rows come out of a run of the method alone as out of
    one beside dense, and dense is trained only to T1 (training_steps counts those T1 steps)."""
    dataset = build_dataset(TASK)
    runs = runs_for(CONTEXT, alone, **({"alpha": 2} if alone != ("dense_reset",) else {}))
    together = runs_for(CONTEXT, ("dense", *alone),
                        **({"alpha": 2} if alone != ("dense_reset",) else {}))
    steps = []
    trained = train_runs(runs, dataset, on_step=steps.append)
    reference = by_method(train_runs(together, dataset))
    assert [t.run for t in trained] == runs
    for result in trained:
        assert same_weights(result.model, reference[result.run.method].model), result.run.method
        assert row_text(evaluate(result, dataset)) == row_text(
            evaluate(reference[result.run.method], dataset))
    own = sum(run.trainer.steps(CONTEXT) for run in runs)
    assert training_steps(runs) == own + CONTEXT.warmup_steps == len(steps)
    assert training_steps(together) == own + CONTEXT.total_steps  # dense runs T1 + T2


def test_a_method_that_needs_nothing_from_dense_trains_no_dense():
    runs = runs_for(CONTEXT, ("wide_dense",), alpha=2)
    steps = []
    train_runs(runs, build_dataset(TASK), on_step=steps.append)
    assert training_steps(runs) == CONTEXT.total_steps == len(steps)


def test_runs_of_two_contexts_or_an_unknown_method_are_one_line_errors():
    other = RunSpec(CONTEXT.replace(seed=6), "dense")
    with pytest.raises(SatbenchError, match="one training context") as error:
        train_runs([RUNS[0], other], build_dataset(TASK))
    assert "\n" not in str(error.value)
    with pytest.raises(SatbenchError, match="unknown method 'moe'") as error:
        RunSpec(CONTEXT, "moe")
    assert "\n" not in str(error.value) and "known methods: bimt, dense" in str(error.value)


def test_same_spec_same_weights_in_this_and_another_process():
    first = {t.run.method: weights(t.model) for t in train_runs(RUNS, build_dataset(TASK))}
    second = {t.run.method: weights(t.model) for t in train_runs(RUNS, build_dataset(TASK))}
    for method in first:
        assert all(torch.equal(a, b) for a, b in zip(first[method], second[method], strict=True))
    code = ("import hashlib, torch; from tests.test_training import RUNS, TASK; "
            "from satbench.training.single import train_runs; "
            "from satbench.generators.dataset import build_dataset; "
            "m = next(t.model for t in train_runs(RUNS, build_dataset(TASK)) "
            "if t.run.method == 'fpe'); "
            "print(hashlib.sha256(b''.join(t.numpy().tobytes() for t in "
            "m.state_dict().values())).hexdigest())")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    here = hashlib.sha256(b"".join(t.numpy().tobytes() for t in first["fpe"])).hexdigest()
    assert other == here


@pytest.mark.parametrize("callers_threads", [2, 3])
def test_training_runs_on_its_own_thread_count_whatever_the_caller_set(callers_threads):
    """Round-off depends on how an op splits between threads, so training pins the count."""
    reference = {t.run.method: weights(t.model) for t in train_runs(RUNS, build_dataset(TASK))}
    before, seen = torch.get_num_threads(), set()
    torch.set_num_threads(callers_threads)
    try:
        trained = train_runs(RUNS, build_dataset(TASK),
                             on_step=lambda n: seen.add(torch.get_num_threads()))
        rows = train_and_evaluate([RunSpec(CONTEXT, "dense")])
        assert torch.get_num_threads() == callers_threads  # the caller's setting is restored
    finally:
        torch.set_num_threads(before)
    assert seen == {TRAINING_THREADS}
    assert rows[0]["torch_threads"] == TRAINING_THREADS
    for result in trained:
        assert all(torch.equal(a, b) for a, b in zip(weights(result.model),
                                                     reference[result.run.method],
                                                     strict=True)), result.run.method


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
    assert single["context_key"].n_unique() == 1 and len(single) == 4
    assert single.equals(swept)


def test_run_shows_progress_over_every_training_step(tmp_path, capsys):
    argv = ["run", "--vars", "10", "--clauses", "4", "--neurons", "2", "--steps", "7,5",
            "--train", "64", "--test", "32", "--out", str(tmp_path)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    # dense 12, fpe 5, wide_dense 12, sparse_scratch 12 (the default methods)
    assert training_steps(runs_from_args_for(argv)) == 41
    assert "41/41" in err and "step" in err
    assert main([*argv, "--no-progress"]) == 0  # found stored: no bar, no training
    assert "41/41" not in capsys.readouterr().err
    # fpe alone: its 5 steps after T1, and dense's 7 steps to T1 (trained, not stored)
    assert main([*argv, "--methods", "fpe", "--out", str(tmp_path / "alone")]) == 0
    assert "12/12" in capsys.readouterr().err
    assert read_results(tmp_path / "alone")["method"].to_list() == ["fpe"]


def runs_from_args_for(argv):
    from satbench.cli import build_parser, runs_from_args

    return runs_from_args(build_parser("run").parse_args(argv))


def test_rows_carry_spec_metrics_fingerprints_and_provenance():
    rows = train_and_evaluate(runs_for(CONTEXT, ("dense", "fpe"), alpha=2, split="random"))
    assert [r["method"] for r in rows] == ["dense", "fpe"]
    for row in rows:
        for key in ("run_key", "context_key", "neurons", "clauses", "vars", "width", "form",
                    "seed", "task_seed", "learning_rate", "test_accuracy", "train_accuracy",
                    "nnz_weights", "mean_abs_cos", "mean_abs_cos_shared_inputs",
                    "capacity_total", "clause_integrity", "task_fingerprint",
                    "dataset_fingerprint", "satbench_version", "git_commit", "torch_version",
                    "device", "torch_threads", "wall_seconds", "gram"):
            assert key in row, key
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert row["gram"] is None  # kept for training seed 0 only
    seed_0 = train_and_evaluate([RunSpec(CONTEXT.replace(seed=0), "dense")])[0]
    assert len(seed_0["gram"]) == TASK.n_inputs**2
    dense, fpe = rows
    assert (fpe["alpha"], fpe["split"], fpe["output_scale"]) == (2, "random", "copy")
    assert not {"alpha", "split", "output_scale"} & set(dense)  # dense takes no params
    assert dense["context_key"] == fpe["context_key"] == CONTEXT.key
    assert dense["run_key"] != fpe["run_key"]


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
    # a method added later trains alone; the stored ones are found
    assert main([*argv, "--methods", "dense,fpe,dense_reset"]) == 0
    assert "found 2 of 3 runs" in capsys.readouterr().err
    assert len(read_results(tmp_path)) == 5


@pytest.mark.parametrize("argv, message", [
    (["--split", "bogus"], "'bogus' (choose from 'clause', 'clause-weighted', 'contiguous'"),
    (["--alpha", "0"], "alpha: expected an integer >= 1"),
    (["--arms", "fpe,moe"], "unknown method 'moe'"),
    (["--methods", "dense", "--alpha", "2"], "alpha: none of the methods dense takes it"),
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
    specs = clone / "satbench" / "specs.py"
    specs.write_text(specs.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    assert commit() == head + "-dirty"


def test_dropconnect_with_nothing_dropped_is_dense_reset():
    runs = [RunSpec(CONTEXT, "dense_reset"), RunSpec(CONTEXT, "dropconnect", {"drop": 0.0})]
    reset, nothing_dropped = train_runs(runs, build_dataset(TASK))
    for a, b in zip(reset.model.parameters(), nothing_dropped.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    dropped = train_runs([RunSpec(CONTEXT, "dropconnect", {"drop": 0.5})], build_dataset(TASK))[0]
    assert not torch.equal(dropped.model.fc1.weight, reset.model.fc1.weight)
    assert dropped.model.nnz_weights() == reset.model.nnz_weights()  # the same budget
    assert dropped.late is not None  # its own loop keeps the convergence snapshot too
    with pytest.raises(SatbenchError, match=r"drop: expected a probability in \[0, 1\)"):
        RunSpec(CONTEXT, "dropconnect", {"drop": 1.0})


def test_overlapping_children_share_inputs_and_keep_the_budget():
    dataset = build_dataset(TASK)
    warm = train_runs([RunSpec(CONTEXT, "dense")], dataset)[0].model
    context = SplitContext.for_formula(dataset.formula)
    disjoint = expand(warm, 3, "random", context, numpy_rng(0, "s"), overlap=1)
    default = expand(warm, 3, "random", context, numpy_rng(0, "s"))
    assert torch.equal(disjoint.model.fc1.weight, default.model.fc1.weight)
    overlapping = expand(warm, 3, "random", context, numpy_rng(0, "s"), overlap=2)
    # before pruning, every input of a parent feeds exactly 2 of its 3 children
    members = overlapping.unpruned.fc1.mask.reshape(4, 3, -1).sum(dim=1)
    assert torch.equal(members, 2 * warm.fc1.mask.to(members.dtype))
    assert overlapping.model.nnz_weights() == warm.nnz_weights()
    run = RunSpec(CONTEXT, "fpe_overlap", {"alpha": 3, "overlap": 2})
    assert train_runs([run], dataset)[0].model.nnz_weights() == warm.nnz_weights()
    with pytest.raises(SatbenchError, match="overlap: expected 1..alpha"):
        RunSpec(CONTEXT, "fpe_overlap", {"alpha": 2, "overlap": 3})


def test_a_diverged_run_is_stored_as_diverged_not_a_crash():
    """A learning rate far too large overflows the weights: the run's row says so, keeps its
    accuracies, and has no first-layer metrics; the other methods' rows are still made."""
    context = TrainingContext(TASK, neurons=4, warmup_steps=10, expanded_steps=10,
                              learning_rate=1e30, batch_size=0, seed=0)
    rows = train_and_evaluate(runs_for(context, ("dense", "fpe")))
    for row in rows:
        assert row["diverged"] is True
        assert 0 <= row["test_accuracy"] <= 1
        assert all(row[name] != row[name] for name in FIRST_LAYER_METRICS)  # NaN
    healthy = train_and_evaluate(runs_for(CONTEXT, ("dense",)))[0]
    assert healthy["diverged"] is False


def test_the_first_layer_metrics_a_diverged_row_blanks_are_the_ones_rows_carry():
    dataset = build_dataset(TASK)
    (trained,) = train_runs(runs_for(CONTEXT, ("dense",)), dataset)
    metrics, _ = first_layer_metrics(trained.model, dataset, TASK.encoding)
    assert tuple(metrics) == FIRST_LAYER_METRICS


def test_a_satbench_inside_another_repository_does_not_record_that_repository_s_commit(tmp_path):
    """A virtual environment inside a user's own git repository: satbench's files sit in that
    checkout, but its commit is not satbench's."""
    repo = tmp_path / "user-project"
    library = repo / ".venv" / "lib" / "site-packages"
    shutil.copytree(Path(__file__).resolve().parents[1] / "satbench", library / "satbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for command in (["init", "-q"], ["add", "-A"],
                    ["-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "theirs"]):
        subprocess.run(["git", *command], cwd=repo, check=True, capture_output=True)
    code = ("import satbench; from satbench.provenance import git_commit; "
            "print(satbench.__file__); print(git_commit())")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, check=True, env={**os.environ, "PYTHONPATH": str(library)})
    path, commit = done.stdout.split()
    assert path.startswith(str(library))
    assert commit == "unknown"

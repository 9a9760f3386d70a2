"""Sweeps: grid expansion over any spec field, resumable and interruptible execution, concurrent
writers, and adding methods to a finished sweep."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from satbench.cli import build_parser, main
from satbench.errors import SatbenchError
from satbench.methods import METHODS
from satbench.store import read_results, runs_dir
from satbench.sweeps.engine import run_sweep
from satbench.sweeps.executors import SerialExecutor, get_executor
from satbench.sweeps.presets import PRESETS, get_preset
from satbench.sweeps.spec import SweepSpec

TINY = SweepSpec.grid("tiny", neurons=(2, 3), clauses=(4,), seeds=2, methods=("dense", "fpe"),
                      axes={"alpha": (2,), "split": ("random",), "n_vars": (10,),
                            "n_train": (128,), "n_test": (64,), "warmup_steps": (5,),
                            "expanded_steps": (5,)})  # 2 cells x 2 seeds x 2 methods: 8 runs


def test_a_grid_expands_to_every_run_with_distinct_keys():
    runs = TINY.runs()
    assert len(runs) == 2 * 1 * 2 * 2
    assert len({r.key for r in runs}) == len(runs)
    contexts = {(r.context.neurons, r.context.task.n_clauses, r.context.seed,
                 r.context.task.seed) for r in runs}
    assert contexts == {(2, 4, 0, 0), (2, 4, 1, 1), (3, 4, 0, 0), (3, 4, 1, 1)}
    assert len({r.run_key for r in runs}) == 4  # the methods of a context share its run_key
    assert sorted(r.method for r in runs) == ["dense"] * 4 + ["fpe"] * 4


def test_each_method_takes_only_the_axes_of_its_own_params():
    spec = TINY.replace(methods=("dense", "fpe", "wide_dense", "sparse_scratch")).with_axes(
        alpha=(2, 4), split=("clause", "random"))
    per_context = {}
    for run in spec.runs():
        per_context.setdefault(run.run_key, []).append(run.method)
    assert len(per_context) == 4
    for methods in per_context.values():  # dense once, wide_dense per alpha, fpe per alpha x split
        assert sorted(methods) == sorted(["dense"] + ["wide_dense"] * 2 + ["fpe"] * 4
                                         + ["sparse_scratch"] * 4)


@pytest.mark.parametrize("axis, values, column", [
    ("weight_decay", (0.0, 0.001), "weight_decay"),
    ("learning_rate", (0.1, 0.01), "learning_rate"),
    ("encoding", ("pm1", "literals"), "encoding"),
    ("n_vars", (10, 12), "vars"),
    ("target", ("formula", "clauses"), "target"),
])
def test_any_task_or_training_field_is_an_axis_that_multiplies_the_contexts(axis, values, column):
    spec = TINY.with_axes(**{axis: values})
    runs = spec.runs()
    assert len(runs) == 2 * len(TINY.runs())
    assert len({r.run_key for r in runs}) == 2 * len({r.run_key for r in TINY.runs()})
    seen = {getattr(r.context, axis, None) if hasattr(r.context, axis)
            else getattr(r.context.task, axis) for r in runs}
    assert seen == set(values), column
    assert SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_an_axis_no_method_or_spec_takes_is_an_error():
    with pytest.raises(SatbenchError, match="bogus: not a field any of the sweep's methods"):
        TINY.with_axes(bogus=(1, 2))
    with pytest.raises(SatbenchError, match="output_scale: not a field"):
        TINY.replace(methods=("dense",), axes={"output_scale": ("copy",)})
    with pytest.raises(SatbenchError, match="alpha: the sweep needs at least one value"):
        TINY.with_axes(alpha=())


def test_presets_are_valid_and_the_paper_preset_has_both_lines():
    for spec in PRESETS.values():
        assert spec.runs()
    paper = get_preset("paper")
    assert {(h, 8) for h in (2, 4, 8, 16)} <= set(paper.cells)
    assert {(8, m) for m in (4, 8, 16, 32)} <= set(paper.cells)
    axes = dict(paper.axes)
    assert paper.seeds >= 5 and set(axes["alpha"]) == {2, 4}
    # The paper's known protocol: read-once DNF, W2 copied, as much training after the split.
    assert axes["support"] == ("disjoint",) and axes["form"] == ("dnf",)
    assert axes["output_scale"] == ("copy",)
    assert all(t1 == t2 for t1, t2 in axes["warmup_steps+expanded_steps"])
    budgets = [t1 + t2 for t1, t2 in dict(get_preset("budget").axes)[
        "warmup_steps+expanded_steps"]]
    assert len(budgets) >= 3 and budgets == sorted(budgets)
    methods = get_preset("methods")  # every registered method, on paper's pressure cells
    assert set(methods.methods) == set(METHODS.names())
    assert methods.cells and all(m > h for h, m in methods.cells)
    assert set(methods.cells) <= set(paper.cells) and methods.seeds == 5
    with pytest.raises(SatbenchError, match="known presets: quick, paper, budget, timing, "
                                            "tuned-shared, methods"):
        get_preset("huge")


def test_a_joint_axis_moves_its_fields_together():
    spec = TINY.with_axes(**{"warmup_steps+expanded_steps": ((1, 2), (3, 4))})
    pairs = {(run.context.warmup_steps, run.context.expanded_steps) for run in spec.runs()}
    assert pairs == {(1, 2), (3, 4)}
    assert SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    again = spec.with_axes(warmup_steps=(5,))  # a field's new axis replaces the joint one
    assert {run.context.warmup_steps for run in again.runs()} == {5}
    with pytest.raises(SatbenchError, match="one spec"):
        TINY.with_axes(**{"alpha+learning_rate": ((2, 0.1),)})
    with pytest.raises(SatbenchError, match="each value must give 2 numbers"):
        TINY.with_axes(**{"warmup_steps+expanded_steps": ((1, 2, 3),)})


def test_bad_grids_fail_before_any_work():
    with pytest.raises(SatbenchError, match=r"^split: .*'halves'.*") as error:
        TINY.with_axes(split=("halves",))
    assert "random-shared" in str(error.value)  # the known splitters are listed
    with pytest.raises(SatbenchError, match="clauses: 999"):
        TINY.replace(cells=((2, 999),)).with_axes(width=(3,), n_vars=(5,))
    with pytest.raises(SatbenchError, match="unknown method 'halves'"):
        TINY.replace(methods=("dense", "halves"))
    with pytest.raises(SatbenchError, match="seeds"):
        TINY.replace(seeds=0)
    with pytest.raises(SatbenchError, match="unknown executor 'dask'"):
        get_executor("dask")


def test_a_rerun_trains_only_what_is_missing(tmp_path):
    counts = run_sweep(TINY, tmp_path, SerialExecutor(), progress=False)
    assert (counts.runs, counts.found, counts.trained, counts.failed) == (8, 0, 8, [])
    first = read_results(tmp_path)
    victim = sorted(runs_dir(tmp_path).glob("*.parquet"))[0]
    victim.unlink()
    counts = run_sweep(TINY, tmp_path, SerialExecutor(), progress=False)
    assert (counts.runs, counts.found, counts.trained) == (8, 7, 1)
    again = read_results(tmp_path)
    key = ["run_key"]
    assert first.sort(key).drop("wall_seconds").equals(again.sort(key).drop("wall_seconds"))


def test_the_local_executor_gives_the_serial_results(tmp_path):
    run_sweep(TINY, tmp_path / "serial", SerialExecutor(), progress=False)
    run_sweep(TINY, tmp_path / "local", get_executor("local"), progress=False)
    cols = ["run_key", "method", "test_accuracy", "train_accuracy", "nnz_weights"]
    serial = read_results(tmp_path / "serial").select(cols).sort("run_key")
    local = read_results(tmp_path / "local").select(cols).sort("run_key")
    assert len(serial) == 8 and serial.equals(local)


def test_two_sweeps_into_one_directory_do_not_clash(tmp_path):
    other = TINY.replace(name="other", seeds=3)  # shares 8 runs with TINY, adds 4
    threads = [threading.Thread(target=run_sweep, args=(s, tmp_path, SerialExecutor(), False))
               for s in (TINY, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    frame = read_results(tmp_path)
    assert frame["run_key"].n_unique() == 12 and len(frame) == 12
    assert len(list((tmp_path / "sweeps").glob("*.json"))) == 2


def _counts(err: str) -> tuple[int, int, int]:
    """(trained, already stored, trained by another sweep) from a sweep's closing line."""
    match = re.search(r"(\d+) runs trained, (\d+) already stored(?:, (\d+) trained by another "
                      r"sweep)?, in ", err)
    assert match, err
    return int(match[1]), int(match[2]), int(match[3] or 0)


def test_two_sweeps_started_together_share_the_work(tmp_path):
    """Two processes, the same sweep, one store: every run is trained once, by one of them; each
    counts the other's runs as trained by another sweep."""
    out = tmp_path / "results"
    command = [sys.executable, "-m", "satbench.cli", "sweep", "--neurons", "2,3", "--clauses",
               "4", "--seeds", "2", "--vars", "10", "--train", "256", "--test", "64", "--steps",
               "150,150", "--split", "random", "--methods", "dense,fpe", "--executor", "serial",
               "--trainer", "single", "--no-progress", "--no-report", "--out", str(out)]
    root = Path(__file__).resolve().parents[1]
    processes = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=root)
                 for _ in range(2)]
    errs = [process.communicate(timeout=300)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], errs
    counts = [_counts(err) for err in errs]
    assert all(sum(each) == 8 for each in counts), errs
    assert sum(trained for trained, _, _ in counts) == 8, errs  # none trained twice
    assert read_results(out)["run_key"].n_unique() == 8 and len(read_results(out)) == 8
    assert not (out / "claims").exists()


def test_a_run_another_process_claimed_but_left_unstored_is_trained_here(tmp_path):
    """A claim ends with its process, however it ends: the sweep waits for it, then trains the
    run that process left unstored."""
    key = TINY.runs()[0].key
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from satbench.claims import try_claim; "
         f"claim = try_claim({str(tmp_path)!r}, {key!r}); print(claim is not None, flush=True); "
         "time.sleep(2); sys.exit(1)"],  # ends without storing the run, or releasing its claim
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "True\n"
    counts = run_sweep(TINY, tmp_path, SerialExecutor(), progress=False)
    assert holder.wait() == 1
    assert (counts.trained, counts.elsewhere, counts.failed) == (8, 0, [])
    assert read_results(tmp_path)["run_key"].n_unique() == 8
    assert not (tmp_path / "claims").exists()


def test_a_claim_is_exclusive_and_ends_with_its_release(tmp_path):
    from satbench.claims import try_claim

    first = try_claim(tmp_path, "k")
    assert first is not None and try_claim(tmp_path, "k") is None
    first.release()
    again = try_claim(tmp_path, "k")
    assert again is not None
    again.release()
    assert list((tmp_path / "claims").iterdir()) == []


def _sweep_command(out: Path) -> list[str]:
    return [sys.executable, "-m", "satbench.cli", "sweep", "--neurons", "2,3,4", "--clauses",
            "4", "--seeds", "3", "--vars", "10", "--train", "128", "--test", "64", "--steps",
            "60,60", "--split", "random", "--methods", "dense,fpe", "--executor", "serial",
            "--no-progress", "--no-report", "--out", str(out)]


@pytest.mark.slow  # kills a real sweep
def test_a_killed_sweep_keeps_its_stored_runs_and_resumes(tmp_path):
    out = tmp_path / "results"
    process = subprocess.Popen(_sweep_command(out), stderr=subprocess.DEVNULL,
                               cwd=Path(__file__).resolve().parents[1], start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(runs_dir(out).glob("*.parquet"))) < 2:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    stored = len(list(runs_dir(out).glob("*.parquet")))
    assert 2 <= stored < 18, "the sweep should have been killed part-way"
    assert len(read_results(out)) == stored  # every stored file is whole
    finished = subprocess.run(_sweep_command(out), capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    assert finished.returncode == 0
    assert f"{18 - stored} runs trained, {stored} already stored" in finished.stderr
    assert read_results(out)["run_key"].n_unique() == 18


@pytest.mark.parametrize("argv, message", [
    (["--preset", "paper", "--neurons", "4", "--clauses", "8"], "not both"),
    (["--neurons", "4"], "needs both"),
    (["--preset", "tiny"], "unknown preset 'tiny'"),
    (["--neurons", "4", "--clauses", "8", "--split", "halves"],
     ("split: ", "'halves'", "random-shared")),  # an unknown splitter, and the known ones
    (["--neurons", "4", "--clauses", "8", "--split", "clause,nope"],
     ("split: ", "'nope'", "random-shared")),
    (["--neurons", "4", "--clauses", "8", "--encoding", "pm1,onehot"],
     "encoding: expected one of pm1, literals, got 'onehot'"),
    (["--neurons", "4", "--clauses", "8", "--planted", "true,maybe"],
     "--planted: expected true or false, got 'maybe'"),
    (["--neurons", "4", "--clauses", "8", "--weight-decay", "0,x"],
     "--weight-decay: expected float values, got 'x'"),
    (["--neurons", "4", "--clauses", "8", "--planted", "true"], "planted: applies to cnf only"),
    (["--neurons", "4", "--clauses", "8", "--methods", "dense,nope"],
     ("methods: unknown method 'nope'; known methods: ", "sparse_scratch")),
    (["--neurons", "4", "--clauses", "8", "--methods", "dense", "--alpha", "2,4"],
     "alpha: not a field any of the sweep's methods (dense)"),
    (["--neurons", "4", "--clauses", "8", "--layer-format", "dense"],
     "invalid choice: 'dense' (choose from 'auto', 'masked'"),
    (["--neurons", "4", "--clauses", "8", "--split", "random", "--layer-format", "grouped"],
     "needs a shared split, but split 'random'"),
])
def test_sweep_rejects_bad_arguments_with_status_2(tmp_path, capsys, argv, message):
    assert main(["sweep", "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert all(part in err for part in ((message,) if isinstance(message, str) else message))
    assert not (tmp_path / "r").exists()


def test_the_batched_trainer_stores_the_same_results(tmp_path):
    run_sweep(TINY, tmp_path / "single", SerialExecutor(), progress=False, trainer="single")
    run_sweep(TINY, tmp_path / "batched", SerialExecutor(), progress=False, trainer="batched")
    cols = ["run_key", "method", "test_accuracy", "train_accuracy", "nnz_weights",
            "mean_abs_cos", "capacity_total"]
    single = read_results(tmp_path / "single").select(cols).sort("run_key")
    batched = read_results(tmp_path / "batched").select(cols).sort("run_key")
    assert len(single) == 8 and single.equals(batched)
    with pytest.raises(SatbenchError, match="trainer: expected one of single, batched"):
        run_sweep(TINY, tmp_path / "x", SerialExecutor(), progress=False, trainer="fast")
    assert not (tmp_path / "x").exists()


def test_a_damaged_run_file_is_quarantined_and_trained_again(tmp_path, caplog):
    run_sweep(TINY, tmp_path, SerialExecutor(), progress=False)
    first = read_results(tmp_path)
    victim = sorted(runs_dir(tmp_path).glob("*.parquet"))[0]
    damaged = victim.read_bytes()[:100]  # a truncated write from another tool, or a bad disk
    victim.write_bytes(damaged)
    counts = run_sweep(TINY, tmp_path, SerialExecutor(), progress=False)
    assert (counts.found, counts.trained) == (7, 1)
    assert (tmp_path / "quarantine" / victim.name).read_bytes() == damaged  # moved, not deleted
    assert any(victim.name in message and "trained again" in message
               for message in caplog.messages)
    key = ["run_key"]
    again = read_results(tmp_path)
    assert first.sort(key).drop("wall_seconds").equals(again.sort(key).drop("wall_seconds"))


UNSAT = SweepSpec.grid("unsat", neurons=(2,), clauses=(4, 60), seeds=2, methods=("dense", "fpe"),
                       axes={"alpha": (2,), "split": ("random",), "n_vars": (6,),
                             "form": ("cnf",), "n_train": (16,), "n_test": (8,),
                             "warmup_steps": (2,), "expanded_steps": (2,)})


def test_cells_that_cannot_run_are_all_named_before_any_training(tmp_path, capsys):
    with pytest.raises(SatbenchError) as error:
        run_sweep(UNSAT, tmp_path, SerialExecutor(), progress=False)
    message = str(error.value)
    assert message.startswith("2 of 4 tasks cannot run, so nothing was trained")
    assert "task m=60 seed=0 (cnf, n=6): positive class" in message
    assert "task m=60 seed=1 (cnf, n=6): positive class" in message
    assert not runs_dir(tmp_path).exists()
    argv = ["sweep", "--neurons", "2", "--clauses", "4,60", "--vars", "6", "--form", "cnf",
            "--train", "16", "--test", "8", "--steps", "2,2", "--seeds", "2", "--split",
            "random", "--methods", "dense,fpe", "--no-progress", "--out", str(tmp_path / "cli")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "satbench: error: 2 of 4 tasks cannot run" in err
    assert not runs_dir(tmp_path / "cli").exists()


def test_a_run_that_fails_is_named_and_every_other_run_is_kept(tmp_path, monkeypatch, capsys):
    from satbench.sweeps import engine

    train = engine.train_runs

    def fails_at_three_neurons(runs, dataset, layer_format):
        context = runs[0].context
        if context.neurons == 3 and context.seed == 1:
            raise FloatingPointError("loss is NaN")
        return train(runs, dataset, layer_format)

    monkeypatch.setattr(engine, "train_runs", fails_at_three_neurons)
    argv = ["sweep", "--neurons", "2,3", "--clauses", "4", "--vars", "10", "--train", "128",
            "--test", "64", "--steps", "5,5", "--seeds", "2", "--split", "random", "--methods",
            "dense,fpe", "--executor", "serial", "--trainer", "single", "--no-progress",
            "--no-report", "--out", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    for method in ("dense", "fpe(alpha=2, split=random, output_scale=copy)"):
        assert (f" ({method}; h=3, m=4, seed=1) failed: FloatingPointError: loss is NaN"
                in err), method
    assert "2 of 8 runs failed" in err and "run the same command again" in err
    assert read_results(tmp_path)["run_key"].n_unique() == 6
    monkeypatch.setattr(engine, "train_runs", train)
    assert main(argv) == 0  # the retry trains only the failed runs
    assert "2 runs trained, 6 already stored" in capsys.readouterr().err


def test_a_sweep_whose_every_run_fails_says_none_is_stored_and_leaves_nothing(
        tmp_path, monkeypatch, capsys):
    from satbench.sweeps import engine

    def fails(runs, dataset, layer_format):
        raise FloatingPointError("loss is NaN")

    monkeypatch.setattr(engine, "train_runs", fails)
    out = tmp_path / "r"
    argv = ["sweep", "--neurons", "2", "--clauses", "4", "--vars", "10", "--train", "128",
            "--test", "64", "--steps", "5,5", "--split", "random", "--methods", "dense,fpe",
            "--seeds", "1", "--executor", "serial", "--trainer", "single", "--no-progress",
            "--out", str(out)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "2 of 2 runs failed (named above); none is stored" in err
    assert "the others are stored" not in err
    assert not out.exists(), "a sweep that stored nothing left a half-made store"


@pytest.mark.slow
def test_ctrl_c_stops_within_seconds_keeps_finished_runs_and_says_how_to_resume(tmp_path):
    out = tmp_path / "results"
    # Single-run jobs long enough (about 8 s each) that waiting for those in flight would
    # show; the local executor, as the main job uses it.
    command = [sys.executable, "-m", "satbench.cli", "sweep", "--neurons", "2,3,4,5",
               "--clauses", "4", "--seeds", "2", "--vars", "10", "--train", "512", "--test",
               "64", "--steps", "100,12000", "--split", "random", "--methods", "dense,fpe",
               "--trainer", "single", "--no-progress", "--no-report", "--out", str(out)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[1], start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not list(runs_dir(out).glob("*.parquet")):
        time.sleep(0.05)
    time.sleep(0.5)  # the next runs are in flight
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the whole process group
    interrupted = time.monotonic()
    err = process.stderr.read()
    status = process.wait()
    waited = time.monotonic() - interrupted
    stored = len(list(runs_dir(out).glob("*.parquet")))
    assert status == 130, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (f"satbench: interrupted: {stored} of 16 runs are stored in "
                                    f"{out}; run the same command again to train the rest")
    assert waited < 5, f"took {waited:.1f} s to stop (a run takes about 8 s)"
    assert 1 <= stored < 16 and len(read_results(out)) == stored
    assert not list(runs_dir(out).glob(".*"))  # no temp file left behind


def test_the_main_job_writes_only_where_git_ignores(tmp_path):
    """`satbench sweep` with no flags writes results/quick and its report beneath it: ignored,
    so the work tree stays clean and later rows do not record a -dirty commit."""
    args = build_parser("sweep").parse_args(["sweep"])
    assert args.out is None and args.report is None  # the defaults cmd_sweep fills in
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    paths = ["results/quick/runs/x.parquet", "results/quick/store.json",
             "results/quick/sweeps/quick-x.json",
             "results/quick/report/report.md", "results/quick/report/heatmap_relative_gain.png",
             "results/run/runs/x.parquet"]
    checked = subprocess.run(["git", "check-ignore", *paths], cwd=root, capture_output=True,
                             text=True)
    assert checked.stdout.split() == paths


def test_a_sweep_report_goes_beside_its_results(tmp_path, capsys):
    argv = ["sweep", "--neurons", "2", "--clauses", "4", "--vars", "10", "--train", "128",
            "--test", "64", "--steps", "3,3", "--seeds", "2", "--split", "random", "--methods",
            "dense,fpe", "--executor", "serial", "--no-progress", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    assert (tmp_path / "r" / "report" / "report.md").exists()
    assert f"report: {tmp_path / 'r' / 'report' / 'report.md'}" in capsys.readouterr().err


def _tiny_sweep(out: Path, *flags: str) -> list[str]:
    return ["sweep", "--neurons", "2", "--clauses", "4", "--seeds", "2", "--vars", "8",
            "--train", "64", "--test", "32", "--steps", "3,3", "--split", "random",
            "--executor", "serial", "--no-progress", "--no-report", "--out", str(out), *flags]


def _files(out: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
            for p in runs_dir(out).glob("*.parquet")}


def test_adding_a_method_to_a_finished_sweep_trains_only_its_runs(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(_tiny_sweep(out, "--methods", "dense,fpe")) == 0
    assert "4 runs trained, 0 already stored" in capsys.readouterr().err
    before = _files(out)
    assert len(before) == 4
    assert main(_tiny_sweep(out, "--methods", "dense,fpe,sparse_scratch")) == 0
    assert "2 runs trained, 4 already stored" in capsys.readouterr().err
    after = _files(out)
    assert {name: after[name] for name in before} == before  # untouched: same bytes and mtimes
    added = read_results(out).filter(~pl.col("run_key").is_in(list(
        name.removesuffix(".parquet") for name in before)))
    assert added["method"].to_list() == ["sparse_scratch"] * 2
    # --arms is the old name of --methods: the same runs, all of them stored by now.
    assert main(_tiny_sweep(out, "--arms", "dense,fpe,sparse_scratch")) == 0
    assert "0 runs trained, 6 already stored" in capsys.readouterr().err
    assert _files(out) == after
    parsed = build_parser("sweep").parse_args(["sweep", "--arms", "dense, fpe"])
    assert parsed.methods == ("dense", "fpe")


def test_a_sweep_of_methods_without_params_needs_no_split_or_alpha(tmp_path, capsys):
    """The grid's default axes (split) and a preset's (alpha, split) apply to the methods that
    take them; a sweep of the dense baseline alone has none."""
    out = tmp_path / "r"
    argv = [a for a in _tiny_sweep(out, "--methods", "dense") if a not in ("--split", "random")]
    assert main(argv) == 0
    assert "2 runs trained, 0 already stored" in capsys.readouterr().err
    assert read_results(out)["method"].to_list() == ["dense", "dense"]


@pytest.mark.parametrize("flags, column, values", [
    (["--weight-decay", "0,0.001"], "weight_decay", [0.0, 0.001]),
    (["--encoding", "pm1,literals"], "encoding", ["literals", "pm1"]),
    (["--form", "cnf", "--planted", "true,false"], "planted", [False, True]),
    (["--lr", "0.1,0.01"], "learning_rate", [0.01, 0.1]),
])
def test_any_spec_flag_takes_a_list_and_doubles_the_training_contexts(tmp_path, capsys, flags,
                                                                       column, values):
    out = tmp_path / "r"
    argv = _tiny_sweep(out, "--methods", "dense,fpe", *flags)
    argv[argv.index("--seeds") + 1] = "1"
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "4 runs (dense, fpe in 2 training contexts" in err
    assert "4 runs trained, 0 already stored" in err
    rows = read_results(out)
    assert sorted(rows[column].unique().to_list()) == values
    assert rows["context_key"].n_unique() == 2
    assert sorted(rows.group_by(column).len()["len"].to_list()) == [2, 2]  # dense and fpe each


def test_a_method_param_axis_multiplies_only_that_methods_runs(tmp_path, capsys):
    out = tmp_path / "r"
    argv = _tiny_sweep(out, "--methods", "dense,fpe", "--output-scale", "divide,copy")
    argv[argv.index("--seeds") + 1] = "1"
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "3 runs (dense, fpe in 1 training contexts" in err
    rows = read_results(out)
    assert rows.filter(pl.col("method") == "fpe")["output_scale"].sort().to_list() == [
        "copy", "divide"]
    assert rows.filter(pl.col("method") == "dense").height == 1


def test_single_values_spread_a_joint_axis_over_its_fields():
    spec = TINY.with_axes(**{"warmup_steps+expanded_steps": ((4, 6),)}, alpha=(2, 3))
    values = spec.single_values()
    assert (values["warmup_steps"], values["expanded_steps"]) == (4, 6)
    assert "alpha" not in values  # two values: not a single setting

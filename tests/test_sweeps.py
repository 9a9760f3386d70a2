"""Sweeps: grid expansion, resumable and interruptible execution, concurrent writers."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from satbench.cli import main
from satbench.errors import SatbenchError
from satbench.store import read_results, runs_dir
from satbench.sweeps.engine import run_sweep
from satbench.sweeps.executors import SerialExecutor, get_executor
from satbench.sweeps.presets import PRESETS, get_preset
from satbench.sweeps.spec import SweepSpec

TINY = SweepSpec.grid("tiny", neurons=(2, 3), clauses=(4,), alphas=(2,), splits=("random",),
                      seeds=2, n_vars=10, n_train=128, n_test=64, warmup_steps=5,
                      expanded_steps=5, arms=("dense", "fpe"))


def test_a_grid_expands_to_every_run_with_distinct_keys():
    runs = TINY.runs()
    assert len(runs) == 2 * 1 * 1 * 1 * 2
    assert len({r.key for r in runs}) == len(runs)
    assert {(r.neurons, r.task.n_clauses, r.seed, r.task.seed) for r in runs} == {
        (2, 4, 0, 0), (2, 4, 1, 1), (3, 4, 0, 0), (3, 4, 1, 1)}


def test_presets_are_valid_and_the_paper_preset_has_both_lines():
    for spec in PRESETS.values():
        assert spec.runs()
    paper = get_preset("paper")
    assert {(h, 8) for h in (2, 4, 8, 16)} <= set(paper.cells)
    assert {(8, m) for m in (4, 8, 16, 32)} <= set(paper.cells)
    assert paper.seeds >= 5 and set(paper.alphas) == {2, 4}
    with pytest.raises(SatbenchError, match="known presets: quick, paper, full"):
        get_preset("huge")


def test_bad_grids_fail_before_any_work():
    with pytest.raises(SatbenchError, match="unknown splitter 'halves'"):
        TINY.replace(splits=("halves",))
    with pytest.raises(SatbenchError, match="clauses: 999"):
        TINY.replace(cells=((2, 999),), width=3, n_vars=5)
    with pytest.raises(SatbenchError, match="seeds"):
        TINY.replace(seeds=0)
    with pytest.raises(SatbenchError, match="unknown executor 'ray'"):
        get_executor("ray")


def test_a_rerun_trains_only_what_is_missing(tmp_path):
    counts = run_sweep(TINY, tmp_path, SerialExecutor(), progress=False)
    assert counts == {"runs": 4, "found": 0, "trained": 4}
    first = read_results(tmp_path)
    victim = sorted(runs_dir(tmp_path).glob("*.parquet"))[0]
    victim.unlink()
    assert run_sweep(TINY, tmp_path, SerialExecutor(), progress=False) == {
        "runs": 4, "found": 3, "trained": 1}
    again = read_results(tmp_path)
    key = ["run_key", "method"]
    assert first.sort(key).drop("wall_seconds").equals(again.sort(key).drop("wall_seconds"))


def test_the_local_executor_gives_the_serial_results(tmp_path):
    run_sweep(TINY, tmp_path / "serial", SerialExecutor(), progress=False)
    run_sweep(TINY, tmp_path / "local", get_executor("local"), progress=False)
    cols = ["run_key", "method", "test_accuracy", "train_accuracy", "nnz_weights"]
    serial = read_results(tmp_path / "serial").select(cols).sort(["run_key", "method"])
    local = read_results(tmp_path / "local").select(cols).sort(["run_key", "method"])
    assert serial.equals(local)


def test_two_sweeps_into_one_directory_do_not_clash(tmp_path):
    other = TINY.replace(name="other", seeds=3)  # shares 4 runs with TINY, adds 2
    threads = [threading.Thread(target=run_sweep, args=(s, tmp_path, SerialExecutor(), False))
               for s in (TINY, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    frame = read_results(tmp_path)
    assert frame["run_key"].n_unique() == 6 and len(frame) == 12
    assert len(list((tmp_path / "sweeps").glob("*.json"))) == 2


def _sweep_command(out: Path) -> list[str]:
    return [sys.executable, "-m", "satbench.cli", "sweep", "--neurons", "2,3,4", "--clauses",
            "4", "--seeds", "3", "--vars", "10", "--train", "128", "--test", "64", "--steps",
            "60,60", "--split", "random", "--arms", "dense,fpe", "--executor", "serial",
            "--no-progress", "--no-report", "--out", str(out)]


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
    assert 2 <= stored < 9, "the sweep should have been killed part-way"
    assert len(read_results(out)) == 2 * stored  # every stored file is whole
    finished = subprocess.run(_sweep_command(out), capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[1])
    assert finished.returncode == 0
    assert f"{9 - stored} runs trained, {stored} already stored" in finished.stderr
    assert read_results(out)["run_key"].n_unique() == 9


@pytest.mark.parametrize("argv, message", [
    (["--preset", "paper", "--neurons", "4", "--clauses", "8"], "not both"),
    (["--neurons", "4"], "needs both"),
    (["--preset", "tiny"], "unknown preset 'tiny'"),
    (["--neurons", "4", "--clauses", "8", "--split", "halves"], "unknown splitter"),
    (["--neurons", "4", "--clauses", "8", "--layer-format", "dense"],
     "layer format: expected one of auto, masked"),
    (["--neurons", "4", "--clauses", "8", "--split", "random", "--layer-format", "grouped"],
     "needs a shared split, but split 'random'"),
])
def test_sweep_rejects_bad_arguments_with_status_2(tmp_path, capsys, argv, message):
    assert main(["sweep", "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_the_batched_trainer_stores_the_same_results(tmp_path):
    run_sweep(TINY, tmp_path / "single", SerialExecutor(), progress=False, trainer="single")
    run_sweep(TINY, tmp_path / "batched", SerialExecutor(), progress=False, trainer="batched")
    cols = ["run_key", "method", "test_accuracy", "train_accuracy", "nnz_weights",
            "mean_abs_cos", "capacity_total"]
    single = read_results(tmp_path / "single").select(cols).sort(["run_key", "method"])
    batched = read_results(tmp_path / "batched").select(cols).sort(["run_key", "method"])
    assert single.equals(batched)
    with pytest.raises(SatbenchError, match="trainer: expected one of single, batched"):
        run_sweep(TINY, tmp_path / "x", SerialExecutor(), progress=False, trainer="fast")
    assert not (tmp_path / "x").exists()

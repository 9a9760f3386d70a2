"""satbench verify: stored rows and reports are checked against what the code computes now."""

import json
import re

import polars as pl
import pytest

from satbench.cli import main
from satbench.store import read_run, run_path, write_run
from satbench.sweeps.engine import run_sweep
from satbench.sweeps.executors import SerialExecutor
from satbench.sweeps.spec import SweepSpec
from satbench.sweeps.verify import (
    render_differences,
    retrain_differences,
    runs_to_verify,
    spread,
)

TINY = SweepSpec.grid("tiny", neurons=(2, 3), clauses=(4,), seeds=2, methods=("dense", "fpe"),
                      axes={"alpha": (2,), "split": ("random",), "n_vars": (10,),
                            "n_train": (128,), "n_test": (64,), "warmup_steps": (5,),
                            "expanded_steps": (5,)})  # 2 cells x 2 seeds x 2 methods: 8 runs


@pytest.fixture
def store(tmp_path):
    run_sweep(TINY, tmp_path / "store", SerialExecutor(), progress=False, trainer="single")
    return tmp_path / "store"


def test_a_store_as_the_code_computes_it_verifies(store, capsys):
    assert retrain_differences(store, runs_to_verify(store)) == []
    assert main(["verify", str(store), "--executor", "serial", "--no-progress"]) == 0
    assert "8 run(s) retrained" in capsys.readouterr().err


def test_a_changed_stored_value_is_named(store, capsys):
    key = next(run.key for run in TINY.runs() if run.method == "fpe")
    (row,) = read_run(store, key)
    row["test_accuracy"] += 1 / 64  # one more test row right than the code gets
    spec = json.loads(pl.read_parquet_metadata(run_path(store, key))["satbench.run_spec"])
    write_run(store, key, [row], spec)
    (difference,) = retrain_differences(store, runs_to_verify(store))
    assert f"run {key[:12]} (fpe(" in difference and ": test_accuracy: " in difference
    assert main(["verify", str(store), "--executor", "serial", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert f"run {key[:12]} (fpe(" in captured.out and "test_accuracy" in captured.out
    assert "satbench: drift: 1 difference" in captured.err


@pytest.mark.slow  # renders and retrains
def test_a_report_must_render_as_committed(store, tmp_path, capsys):
    report = tmp_path / "report"
    assert main(["report", str(store), "--out", str(report)]) == 0
    assert render_differences(report) == []
    text = (report / "report.md").read_text()
    stored = re.search(r"^- Stored: (\d+) .*$", text, re.MULTILINE)  # how many runs are stored
    assert stored[1] == "8"
    changed = stored[0].replace(f"- Stored: {stored[1]} ", "- Stored: 999 ", 1)
    (report / "report.md").write_text(text.replace(stored[0], changed))
    (difference,) = render_differences(report)
    assert f"committed {changed!r}" in difference and f"now {stored[0]!r}" in difference
    assert main(["verify", str(report), "--runs", "1", "--executor", "serial",
                 "--no-progress"]) == 1


def test_a_sample_is_spread_over_the_store():
    assert spread(list(range(10)), 3) == [0, 4, 9]  # round(4.5) is 4: even
    assert spread([1, 2], None) == [1, 2] and spread([1, 2], 5) == [1, 2]
    assert spread(list(range(10)), 1) == [0]


def _as_if_from_another_platform(store, change: dict) -> None:
    """Restamp every stored row as computed natively on another CPU, and shift the fpe row of
    the first context by `change` ({column: added amount})."""
    target = next(run.key for run in TINY.runs() if run.method == "fpe")
    for run in TINY.runs():
        (row,) = read_run(store, run.key)
        row |= {"numeric_mode": "native", "cpu_capability": "AVX512"}
        if run.key == target:
            row |= {column: row[column] + amount for column, amount in change.items()}
        spec = json.loads(pl.read_parquet_metadata(run_path(store, run.key))["satbench.run_spec"])
        write_run(store, run.key, [row], spec)


def test_rows_of_another_platform_verify_within_the_stated_tolerance(store, capsys):
    _as_if_from_another_platform(store, {"train_loss": 1e-6})
    assert main(["verify", str(store), "--executor", "serial", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "platform rounding: 1 value(s) differ by at most 1e-06" in err
    assert "every verdict and every figure of the stores' reports is unchanged" in err


@pytest.mark.slow  # renders two reports
def test_rounding_that_moves_a_store_s_report_is_drift(store, capsys):
    _as_if_from_another_platform(store, {"test_accuracy": 0.25})
    assert main(["verify", str(store), "--executor", "serial", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "(its report):" in captured.out and "satbench: drift:" in captured.err


def test_on_another_platform_a_count_must_still_match(store, capsys):
    _as_if_from_another_platform(store, {"nnz_weights": 1})
    assert main(["verify", str(store), "--executor", "serial", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "nnz_weights" in captured.out and "satbench: drift: 1 difference" in captured.err


@pytest.mark.slow  # renders two reports
def test_rounding_that_leaves_the_report_unchanged_verifies_with_the_report(store, tmp_path,
                                                                             capsys):
    _as_if_from_another_platform(store, {"train_loss_late": 1e-7})  # printed nowhere
    report = tmp_path / "report"
    assert main(["report", str(store), "--out", str(report)]) == 0
    assert main(["verify", str(report), "--executor", "serial", "--no-progress"]) == 0
    assert ("every verdict and every figure in report.md is unchanged"
            in capsys.readouterr().err)


@pytest.mark.slow  # renders two reports
def test_rounding_that_moves_a_printed_figure_is_drift(store, tmp_path, capsys):
    """A small difference, but the report made from the stored rows prints another number than
    the retrained rows give: a committed figure the code no longer computes here."""
    _as_if_from_another_platform(store, {"test_accuracy": 0.0019})
    report = tmp_path / "report"
    assert main(["report", str(store), "--out", str(report)]) == 0
    assert main(["verify", str(report), "--executor", "serial", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert "report.md:" in captured.out and "satbench: drift:" in captured.err

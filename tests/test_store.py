"""The results store: atomic per-run files; corrupt or foreign files are named and skipped."""

import polars as pl
import pytest

from satbench.store import StoreWarning, has_run, read_results, run_path, runs_dir, write_run

ROWS = [{"run_key": "k1", "method": m, "test_accuracy": 0.5, "train_accuracy": 0.6,
         "nnz_weights": 10} for m in ("dense", "fpe")]


def test_rows_round_trip_and_runs_are_found_by_key(tmp_path):
    write_run(tmp_path, "k1", ROWS, {"spec": 1})
    assert has_run(tmp_path, "k1") and not has_run(tmp_path, "k2")
    assert read_results(tmp_path).to_dicts() == ROWS


def test_an_empty_or_missing_store_reads_as_no_rows(tmp_path):
    assert read_results(tmp_path / "nothing").is_empty()


@pytest.mark.parametrize("name, content, reason", [
    ("bad.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
    ("notes.txt", b"hello", "not a .parquet file"),
])
def test_corrupt_files_are_reported_by_name_and_skipped(tmp_path, name, content, reason):
    write_run(tmp_path, "k1", ROWS, {})
    (runs_dir(tmp_path) / name).write_bytes(content)
    with pytest.warns(StoreWarning, match=f"{name}: skipped: {reason}"):
        frame = read_results(tmp_path)
    assert len(frame) == 2


def test_a_foreign_parquet_file_is_not_merged(tmp_path):
    write_run(tmp_path, "k1", ROWS, {})
    pl.DataFrame({"x": [1, 2]}).write_parquet(runs_dir(tmp_path) / "foreign.parquet")
    with pytest.warns(StoreWarning, match="foreign.parquet: skipped: not a satbench run file"):
        assert len(read_results(tmp_path)) == 2


def test_a_renamed_run_file_is_detected(tmp_path):
    write_run(tmp_path, "k1", ROWS, {})
    run_path(tmp_path, "k1").rename(run_path(tmp_path, "k9"))
    with pytest.warns(StoreWarning, match="run key does not match"):
        assert read_results(tmp_path).is_empty()


def test_in_flight_temporary_files_are_ignored(tmp_path):
    write_run(tmp_path, "k1", ROWS, {})
    (runs_dir(tmp_path) / ".k2.parquet.abc.tmp").write_bytes(b"partial")
    assert len(read_results(tmp_path)) == 2

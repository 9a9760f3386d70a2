"""The results store: atomic per-run files; corrupt or foreign files are named and skipped by
readers, and moved to quarantine (never deleted) by writers, which train the run again. A store
written by satbench 0.2 is refused until `satbench migrate` converts it (tests/test_migrate.py)."""

import json
import os
import stat

import polars as pl
import pytest

from satbench.errors import SatbenchError
from satbench.store import (
    LAYOUT_1_SCHEMA,
    SCHEMA,
    StoreWarning,
    check_layout,
    find_runs,
    mark_layout,
    quarantine_dir,
    read_results,
    read_run,
    run_path,
    runs_dir,
    write_run,
)

ROWS = [{"run_key": "k1", "context_key": "c1", "method": "fpe", "alpha": 2, "split": "clause",
         "test_accuracy": 0.5, "train_accuracy": 0.6, "nnz_weights": 10}]  # one row per run


def test_rows_round_trip_and_runs_are_found_by_key(tmp_path):
    write_run(tmp_path, "k1", ROWS, {"spec": 1})
    assert find_runs(tmp_path, ["k1", "k2"]) == ({"k1"}, [])
    assert read_run(tmp_path, "k1") == ROWS and read_run(tmp_path, "k2") is None
    assert read_results(tmp_path).to_dicts() == ROWS
    assert pl.read_parquet_metadata(run_path(tmp_path, "k1"))["satbench.schema"] == SCHEMA


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
    assert len(frame) == 1


def test_a_foreign_parquet_file_is_not_merged(tmp_path):
    write_run(tmp_path, "k1", ROWS, {})
    pl.DataFrame({"x": [1, 2]}).write_parquet(runs_dir(tmp_path) / "foreign.parquet")
    with pytest.warns(StoreWarning, match="foreign.parquet: skipped: not a satbench run file"):
        assert len(read_results(tmp_path)) == 1


def test_a_renamed_run_file_is_detected(tmp_path):
    write_run(tmp_path, "k1", ROWS, {})
    run_path(tmp_path, "k1").rename(run_path(tmp_path, "k9"))
    with pytest.warns(StoreWarning, match="run key does not match"):
        assert read_results(tmp_path).is_empty()


def test_in_flight_temporary_files_are_ignored(tmp_path):
    write_run(tmp_path, "k1", ROWS, {})
    (runs_dir(tmp_path) / ".k2.parquet.abc.tmp").write_bytes(b"partial")
    assert len(read_results(tmp_path)) == 1


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_run_file_is_not_stored_and_moves_to_quarantine(tmp_path, damage):
    path = write_run(tmp_path, "k1", ROWS, {})
    write_run(tmp_path, "k2", ROWS, {})
    data = path.read_bytes()
    damaged = {"truncate": data[: len(data) // 2], "garbage": b"PAR1" + b"x" * 200,
               "empty": b""}[damage]
    path.write_bytes(damaged)
    stored, moved = find_runs(tmp_path, ["k1", "k2"])
    assert stored == {"k2"}
    assert len(moved) == 1 and "k1.parquet" in moved[0] and "trained again" in moved[0]
    assert not path.exists() and read_run(tmp_path, "k1") is None
    assert (quarantine_dir(tmp_path) / "k1.parquet").read_bytes() == damaged  # kept, not deleted


def test_quarantine_never_overwrites_an_earlier_damaged_file(tmp_path):
    mark_layout(tmp_path)  # a store of today's layout (its first run file writes the marker)
    for attempt in range(3):
        run_path(tmp_path, "k1").parent.mkdir(parents=True, exist_ok=True)
        run_path(tmp_path, "k1").write_bytes(f"bad {attempt}".encode())
        find_runs(tmp_path, ["k1"])
    kept = sorted(p.read_bytes() for p in quarantine_dir(tmp_path).iterdir())
    assert kept == [b"bad 0", b"bad 1", b"bad 2"]


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_run(tmp_path, "k1", ROWS, {})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # mkstemp would give 0600


def test_the_first_run_file_marks_the_store_with_its_layout(tmp_path):
    check_layout(tmp_path / "new")  # an empty or missing directory can take runs
    write_run(tmp_path, "k1", ROWS, {})
    assert json.loads((tmp_path / "store.json").read_text()) == {"layout": 2}


def _old_run_file(path):
    """A run file as satbench 0.2 wrote it: one FPE run, a row per arm, its own schema tag."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"run_key": path.stem, "method": m, "test_accuracy": 0.5, "train_accuracy": 0.6,
             "nnz_weights": 10} for m in ("dense", "fpe")]
    pl.DataFrame(rows).write_parquet(path, metadata={"satbench.schema": LAYOUT_1_SCHEMA,
                                                     "satbench.run_key": path.stem,
                                                     "satbench.run_spec": "{}"})


def test_a_satbench_0_2_store_is_refused_with_a_pointer_to_migrate(tmp_path):
    _old_run_file(run_path(tmp_path, "old"))
    before = sorted(tmp_path.rglob("*"))
    expected = f"run `satbench migrate {tmp_path}` to convert them (the old files are kept)"
    for read in (lambda: find_runs(tmp_path, ["old", "k1"]), lambda: read_results(tmp_path),
                 lambda: check_layout(tmp_path)):
        with pytest.raises(SatbenchError) as error:
            read()
        assert expected in str(error.value) and "\n" not in str(error.value)
    assert sorted(tmp_path.rglob("*")) == before  # nothing quarantined, nothing marked


def test_a_satbench_0_2_file_in_a_new_store_is_named_not_merged(tmp_path):
    write_run(tmp_path, "k1", ROWS, {})
    _old_run_file(run_path(tmp_path, "old"))
    with pytest.warns(StoreWarning, match="old.parquet: skipped: a satbench 0.2 run file: "
                                          "convert the store with `satbench migrate`"):
        assert read_results(tmp_path).to_dicts() == ROWS


def test_a_store_of_another_layout_is_refused(tmp_path):
    (tmp_path / "store.json").write_text(json.dumps({"layout": 3}))
    with pytest.raises(SatbenchError, match="store layout 3, this satbench reads layout 2"):
        find_runs(tmp_path, ["k1"])

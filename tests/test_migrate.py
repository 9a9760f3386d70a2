"""satbench migrate: results stores written by satbench 0.2 (layout 1: one file per FPE run, a row
per arm) become today's stores (layout 2: a file per method run), losing nothing.

tests/data/store-0.2 holds three run files and the sweep manifest that satbench 0.2 wrote for the
quick preset. The whole quick store of satbench 0.2 is rebuilt here from the committed store
(reports/quick/results, migrated from it): each layout-1 file as satbench 0.2 wrote it, with its
RunSpec, its key, its columns and every stored outcome (checked against the three real files), so
migrating it must give back the committed store exactly.
"""

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from satbench.cli import main
from satbench.errors import SatbenchError
from satbench.migrate import migrate_store
from satbench.store import LAYOUT_1_SCHEMA, SCHEMA, read_results, runs_dir
from satbench.sweeps.verify import stored_runs

STORE_0_2 = Path(__file__).resolve().parent / "data" / "store-0.2"  # real satbench 0.2 files
ARMS = ("dense", "fpe", "wide_dense")  # the quick preset's arms in satbench 0.2
# satbench 0.2's spec columns, in its order; the outcome columns followed layer_format.
OLD_SPEC_COLUMNS = ("run_key", "method", "split", "alpha", "neurons", "width_hidden", "clauses",
                    "vars", "width", "form", "encoding", "target", "planted", "n_train", "n_test",
                    "seed", "task_seed", "output_scale", "warmup_steps", "expanded_steps",
                    "learning_rate", "batch_size", "weight_decay", "layer_format")
# The quick preset's sweep manifest as satbench 0.2 wrote it (sweeps/quick-13af9420c12d.json).
QUICK_MANIFEST = {"alphas": [2], "arms": list(ARMS), "batch_size": 0,
                  "cells": [[4, 16], [8, 8], [8, 16], [8, 32]], "encoding": "pm1",
                  "expanded_steps": 1000, "form": "dnf", "learning_rate": 0.1, "n_test": 4096,
                  "n_train": 16384, "n_vars": 32, "name": "quick", "output_scale": "divide",
                  "seeds": 3, "splits": ["clause", "random"], "target": "formula",
                  "warmup_steps": 1000, "width": 3}
CONTEXT_FIELDS = ("neurons", "warmup_steps", "expanded_steps", "learning_rate", "batch_size",
                  "weight_decay", "seed")


def snapshot(directory: Path) -> dict:
    """Every path under `directory`, with the bytes and mtime of each file."""
    return {path: (path.read_bytes(), path.stat().st_mtime_ns) if path.is_file() else None
            for path in sorted(directory.rglob("*"))}


def schema_of(path: Path) -> str:
    return pl.read_parquet_metadata(path)["satbench.schema"]


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def old_store(tmp_path) -> Path:
    """A copy of tests/data/store-0.2: three satbench 0.2 run files of two training contexts;
    two of them (the clause and random splits of h=8, m=8, seed 1) hold the same dense and
    wide_dense arms."""
    store = tmp_path / "old"
    shutil.copytree(STORE_0_2, store, ignore=shutil.ignore_patterns("README.md"))
    files = sorted(runs_dir(store).glob("*.parquet"))
    assert len(files) == 3 and all(schema_of(p) == LAYOUT_1_SCHEMA for p in files)
    return store


TINY = ["--vars", "8", "--clauses", "4", "--train", "64", "--test", "32", "--steps", "1,1",
        "--no-progress"]


@pytest.mark.parametrize("argv", [
    ["sweep", "--neurons", "2", "--clauses", "4", "--vars", "8", "--train", "64", "--test", "32",
     "--steps", "1,1", "--split", "random", "--executor", "serial", "--no-progress", "--out",
     "{store}"],  # with its report beside the results
    ["run", *TINY, "--methods", "dense", "--out", "{store}"],
    ["report", "{store}", "--out", "{tmp}/report"],
    ["verify", "{store}", "--executor", "serial", "--no-progress"],
])
def test_commands_refuse_a_satbench_0_2_store_and_name_the_migration(old_store, tmp_path, capsys,
                                                                      argv):
    before = snapshot(tmp_path)
    status, out, err = run_cli(capsys, *[a.format(store=old_store, tmp=tmp_path) for a in argv])
    assert status == 2 and out == ""
    assert err.startswith("satbench: error:") and err.count("\n") == 1
    assert f"run `satbench migrate {old_store}`" in err
    assert snapshot(tmp_path) == before, "a refused command wrote or moved something"


def test_migrate_converts_a_store_keeps_the_old_files_and_runs_once(old_store, capsys):
    old_files = {path.name: path.read_bytes() for path in runs_dir(old_store).glob("*.parquet")}
    old_rows = pl.concat([pl.read_parquet(old_store / "runs" / name) for name in old_files])
    manifest = (old_store / "sweeps" / "quick-13af9420c12d.json").read_text()
    status, out, err = run_cli(capsys, "migrate", old_store)
    assert status == 0 and out == ""
    assert "3 satbench 0.2 run files became 7 run files (2 repeated" in err
    # Nothing deleted: the old files moved, byte for byte, to layout-1/.
    moved = old_store / "layout-1"
    assert {p.name: p.read_bytes() for p in (moved / "runs").iterdir()} == old_files
    assert (moved / "sweeps" / "quick-13af9420c12d.json").read_text() == manifest
    assert json.loads((old_store / "store.json").read_text()) == {"layout": 2}
    new_files = sorted(runs_dir(old_store).glob("*.parquet"))
    assert len(new_files) == 7 and all(schema_of(p) == SCHEMA for p in new_files)
    # The dense (and wide_dense) arm of h=8, m=8, seed 1 was in two old files: stored once.
    rows = read_results(old_store)
    assert rows["method"].value_counts().sort("method").rows() == [
        ("dense", 2), ("fpe", 3), ("wide_dense", 2)]
    assert rows["run_key"].n_unique() == 7 and rows["context_key"].n_unique() == 2
    # Every old row's outcomes are its run's, unchanged.
    for old in old_rows.to_dicts():
        same = (pl.col("method") == old["method"]) & (pl.col("neurons") == old["neurons"]) & (
            pl.col("clauses") == old["clauses"]) & (pl.col("seed") == old["seed"])
        if old["method"] == "fpe":
            same &= pl.col("split") == old["split"]
        (new,) = rows.filter(same).to_dicts()
        for column in ("test_accuracy", "train_accuracy", "nnz_weights", "capacity_total",
                       "dataset_fingerprint", "wall_seconds"):
            assert new[column] == old[column], (old["method"], column)
        # The Gram matrix is kept for training seed 0 only, as satbench 0.4 stores it.
        assert new["gram"] == (old["gram"] if old["seed"] == 0 else None)
    (manifest_file,) = (old_store / "sweeps").glob("*.json")
    converted = json.loads(manifest_file.read_text())
    assert converted["spec"]["methods"] == list(ARMS)
    # The manifest names today's keys; the migrated rows keep scheme 1's, so a sweep retrains.
    assert converted["run_keys"] and not set(rows["run_key"]) & set(
        converted["run_keys"])
    # A second migration finds the store current and changes nothing.
    before = snapshot(old_store)
    status, _, err = run_cli(capsys, "migrate", old_store)
    assert status == 0 and err == f"{old_store}: already current (layout 2); nothing to do\n"
    assert snapshot(old_store) == before


@pytest.mark.parametrize("name, make, message", [
    ("missing", lambda path: None, "{store}: no such directory"),
    ("empty", lambda path: path.mkdir(), "{store}: holds no satbench 0.2 results store"),
    ("other", lambda path: (path.mkdir(), (path / "notes.txt").write_text("x\n")),
     "{store}: holds no satbench 0.2 results store"),
    ("file", lambda path: path.write_text("x\n"), "{store}: not a directory"),
])
def test_migrate_refuses_a_directory_without_an_old_store_and_creates_nothing(
        tmp_path, capsys, name, make, message):
    store = tmp_path / name
    make(store)
    before = snapshot(tmp_path)
    status, out, err = run_cli(capsys, "migrate", store)
    assert status == 2 and out == ""
    assert err.startswith(f"satbench: error: {message.format(store=store)}")
    assert err.count("\n") == 1
    assert snapshot(tmp_path) == before, "a refused migration wrote something"


def test_migrate_says_a_store_of_today_is_already_current_and_touches_nothing(tmp_path, capsys):
    store = tmp_path / "r"
    assert main(["run", *TINY, "--methods", "dense", "--out", str(store)]) == 0
    capsys.readouterr()
    before = snapshot(tmp_path)
    status, out, err = run_cli(capsys, "migrate", store)
    assert status == 0 and out == ""
    assert err == f"{store}: already current (layout 2); nothing to do\n"
    assert snapshot(tmp_path) == before


def test_commands_work_on_a_migrated_store_and_retrain_its_runs(old_store, capsys):
    """Migrated rows are kept, keyed as satbench 0.2 keyed them (seeding scheme 1): today's code
    draws other random numbers, so a run of the same spec trains anew beside them."""
    assert main(["migrate", str(old_store)]) == 0
    capsys.readouterr()
    before = {path.name for path in runs_dir(old_store).glob("*.parquet")}
    argv = ["run", "--neurons", "8", "--clauses", "8", "--seed", "1", "--methods",
            "dense,wide_dense", "--no-progress", "--out", str(old_store)]
    assert main(argv) == 0
    assert "stored 2 runs" in capsys.readouterr().err
    after = {path.name for path in runs_dir(old_store).glob("*.parquet")}
    assert before < after and len(after - before) == 2
    assert len(read_results(old_store).filter(pl.col("neurons") == 8)) > 2  # old rows too


def test_verify_names_migrated_runs_as_stale_instead_of_retraining_them(old_store):
    migrate_store(old_store)
    with pytest.raises(SatbenchError, match=r"stored by an earlier satbench under another key "
                                            r"\((\d+) of \1 runs\)"):
        stored_runs(old_store)


def test_a_dense_run_stored_differently_in_two_files_stops_the_migration(old_store):
    files = sorted(runs_dir(old_store).glob("*.parquet"))
    contexts = [json.loads(pl.read_parquet_metadata(p)["satbench.run_spec"])["neurons"]
                for p in files]
    first, second = [p for p, h in zip(files, contexts, strict=True) if h == contexts[0]]
    metadata = pl.read_parquet_metadata(second)
    frame = pl.read_parquet(second)
    frame = frame.with_columns(pl.when(pl.col("method") == "dense")
                               .then(pl.col("test_accuracy") + 1 / 4096)
                               .otherwise(pl.col("test_accuracy")).alias("test_accuracy"))
    frame.write_parquet(second, metadata={k: v for k, v in metadata.items()
                                          if k.startswith("satbench.")})
    assert schema_of(second) == LAYOUT_1_SCHEMA
    before = snapshot(old_store)
    with pytest.raises(SatbenchError) as error:
        migrate_store(old_store)
    message = str(error.value)
    assert "dense" in message and "differs from the same run" in message
    assert first.name in message and second.name in message
    assert "nothing was migrated" in message
    assert snapshot(old_store) == before, "a failed migration wrote or moved something"


def test_old_files_already_in_layout_1_stop_the_migration_before_anything_is_written(
        old_store, tmp_path):
    """A store whose old files were restored after a migration (layout-1/ holds files of the
    same names): the migration refuses, and writes and moves nothing."""
    copy = tmp_path / "copy"
    shutil.copytree(old_store, copy)
    migrate_store(old_store)
    shutil.copytree(old_store / "layout-1", copy / "layout-1")
    before = snapshot(copy)
    with pytest.raises(SatbenchError, match="already exists"):
        migrate_store(copy)
    assert snapshot(copy) == before, "a refused migration wrote or moved something"

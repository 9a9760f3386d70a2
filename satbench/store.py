"""The results store: a directory of Parquet files, one per finished run, written atomically.

One file per run key means a killed process loses at most the runs in flight, two processes
writing to the same directory never touch the same file, and a rerun finds finished work by key.

A run counts as stored only when its file reads back whole. Readers (reports) name a damaged or
foreign file and skip it; a writer about to train (`find_runs`) moves a damaged run file into
`quarantine/` beside `runs/` and trains the run again. No file is ever deleted.
"""

import json
import os
import warnings
from pathlib import Path

import polars as pl

from satbench.atomic import atomic_path

SCHEMA = "satbench.run-rows/1"
SCHEMA_KEY = "satbench.schema"
REQUIRED_COLUMNS = ("run_key", "method", "test_accuracy", "train_accuracy", "nnz_weights")


class StoreWarning(UserWarning):
    """A file in the results store was skipped."""


def runs_dir(directory) -> Path:
    return Path(directory) / "runs"


def quarantine_dir(directory) -> Path:
    return Path(directory) / "quarantine"


def run_path(directory, key: str) -> Path:
    return runs_dir(directory) / f"{key}.parquet"


def write_run(directory, key: str, rows: list[dict], spec: dict) -> Path:
    """Store one run's rows (one per arm) under its key, atomically."""
    path = run_path(directory, key)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    metadata = {SCHEMA_KEY: SCHEMA, "satbench.run_key": key,
                "satbench.run_spec": json.dumps(spec, sort_keys=True)}
    with atomic_path(path) as temp:
        frame.write_parquet(temp, metadata=metadata)
    return path


def _read_checked(path: Path) -> tuple[pl.DataFrame | None, str | None]:
    """(rows, None) for a valid run file, else (None, why it is not one)."""
    if path.suffix != ".parquet":
        return None, "not a .parquet file"
    try:
        metadata = pl.read_parquet_metadata(path)
        schema = pl.read_parquet_schema(path)
    except Exception as error:  # polars raises several types for unreadable files
        return None, f"not a readable Parquet file ({type(error).__name__})"
    if metadata.get(SCHEMA_KEY) != SCHEMA:
        return None, (f"not a satbench run file (schema {metadata.get(SCHEMA_KEY)!r}, "
                      f"want {SCHEMA!r})")
    if metadata.get("satbench.run_key") != path.stem:
        return None, "its run key does not match its file name"
    missing = [c for c in REQUIRED_COLUMNS if c not in schema]
    if missing:
        return None, f"missing columns {', '.join(missing)}"
    try:
        return pl.read_parquet(path), None
    except Exception as error:
        return None, f"unreadable rows ({type(error).__name__})"


def read_run(directory, key: str) -> list[dict] | None:
    """The stored rows of run `key`, or None if it has no valid file."""
    path = run_path(directory, key)
    if not path.exists():
        return None
    frame, _ = _read_checked(path)
    return None if frame is None else frame.to_dicts()


def quarantine(directory, path: Path) -> Path:
    """Move a damaged file from the store into quarantine/, never over an earlier one."""
    target_dir = quarantine_dir(directory)
    target_dir.mkdir(parents=True, exist_ok=True)
    target, copy = target_dir / path.name, 1
    while target.exists():
        copy += 1
        target = target_dir / f"{path.stem}.{copy}{path.suffix}"
    os.replace(path, target)
    return target


def find_runs(directory, keys, move_damaged: bool = True) -> tuple[set[str], list[str]]:
    """Which of `keys` are stored whole, and a message for each damaged file.

    A run whose file cannot be read is not stored: its file goes to quarantine/ (unless
    move_damaged is False, for readers) and the caller trains the run again.
    """
    stored, moved = set(), []
    for key in keys:
        path = run_path(directory, key)
        if not path.exists():
            continue
        frame, problem = _read_checked(path)
        if frame is not None:
            stored.add(key)
            continue
        if move_damaged:
            target = quarantine(directory, path)
            moved.append(f"{path}: {problem}; moved to {target}, the run will be trained again")
        else:
            moved.append(f"{path}: skipped: {problem}")
    return stored, moved


def read_results(directory) -> pl.DataFrame:
    """Every valid stored row; each skipped file gives a StoreWarning naming it and why."""
    frames = []
    for path in sorted(runs_dir(directory).glob("*")):
        if path.name.startswith("."):  # an in-flight atomic write
            continue
        frame, problem = _read_checked(path)
        if frame is None:
            warnings.warn(f"{path}: skipped: {problem}", StoreWarning, stacklevel=2)
        else:
            frames.append(frame)
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed")

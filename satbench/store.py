"""The results store: a directory of Parquet files, one per finished run, written atomically.

One file per run key means a killed process loses at most the runs in flight, two processes
writing to the same directory never touch the same file, and a rerun finds finished work by key.
Reading validates every file; a corrupt or foreign one is reported by name and skipped.
"""

import json
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


def run_path(directory, key: str) -> Path:
    return runs_dir(directory) / f"{key}.parquet"


def has_run(directory, key: str) -> bool:
    return run_path(directory, key).exists()


def write_run(directory, key: str, rows: list[dict], spec: dict) -> Path:
    """Store one run's rows (one per arm) under its key, atomically."""
    path = run_path(directory, key)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    metadata = {SCHEMA_KEY: SCHEMA, "satbench.run_key": key,
                "satbench.run_spec": json.dumps(spec, sort_keys=True)}
    with atomic_path(path) as temp:
        frame.write_parquet(temp, metadata=metadata)
    return path


def read_run(directory, key: str) -> list[dict]:
    return pl.read_parquet(run_path(directory, key)).to_dicts()


def _problem(path: Path) -> str | None:
    """Why `path` is not a valid run file, or None."""
    try:
        metadata = pl.read_parquet_metadata(path)
        schema = pl.read_parquet_schema(path)
    except Exception as error:  # polars raises several types for unreadable files
        return f"not a readable Parquet file ({type(error).__name__})"
    if metadata.get(SCHEMA_KEY) != SCHEMA:
        return f"not a satbench run file (schema {metadata.get(SCHEMA_KEY)!r}, want {SCHEMA!r})"
    if metadata.get("satbench.run_key") != path.stem:
        return "its run key does not match its file name"
    missing = [c for c in REQUIRED_COLUMNS if c not in schema]
    return f"missing columns {', '.join(missing)}" if missing else None


def read_results(directory) -> pl.DataFrame:
    """Every valid stored row; each skipped file gives a StoreWarning naming it and why."""
    frames = []
    for path in sorted(runs_dir(directory).glob("*")):
        if path.name.startswith("."):  # an in-flight atomic write
            continue
        problem = _problem(path) if path.suffix == ".parquet" else "not a .parquet file"
        if problem is None:
            try:
                frames.append(pl.read_parquet(path))
                continue
            except Exception as error:
                problem = f"unreadable rows ({type(error).__name__})"
        warnings.warn(f"{path}: skipped: {problem}", StoreWarning, stacklevel=2)
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed")

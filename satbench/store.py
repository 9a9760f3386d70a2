"""The results store: a directory of Parquet files, one per finished run, written atomically.

A run is one method trained in one context (satbench.runs.RunSpec), so adding a method to a
finished sweep adds files and touches none. One file per run key means a killed process loses at
most the runs in flight, two processes writing to the same directory never touch the same file,
and a rerun finds finished work by key.

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
from satbench.errors import SatbenchError
from satbench.row_schema import columns

SCHEMA = "satbench.run-rows/2"
LAYOUT_1_SCHEMA = "satbench.run-rows/1"  # one file per FPE run with all its arms (satbench 0.2)
SCHEMA_KEY = "satbench.schema"
LAYOUT_FILE = "store.json"  # {"layout": 2}: written with the first run file
LAYOUT = 2
REQUIRED_COLUMNS = ("run_key", "context_key", "method", "test_accuracy", "train_accuracy",
                    "nnz_weights")


class StoreWarning(UserWarning):
    """A file in the results store was skipped."""


def runs_dir(directory) -> Path:
    return Path(directory) / "runs"


def quarantine_dir(directory) -> Path:
    return Path(directory) / "quarantine"


def run_path(directory, key: str) -> Path:
    return runs_dir(directory) / f"{key}.parquet"


def layout_problem(directory) -> str | None:
    """Why `directory` cannot take new runs as it is, or None."""
    marker = Path(directory) / LAYOUT_FILE
    if marker.exists():
        try:
            layout = json.loads(marker.read_text()).get("layout")
        except (OSError, ValueError, AttributeError) as error:
            return f"{marker}: unreadable store marker ({type(error).__name__})"
        return None if layout == LAYOUT else (f"{marker}: store layout {layout!r}, this "
                                              f"satbench reads layout {LAYOUT}")
    if any(runs_dir(directory).glob("*.parquet")):
        return (f"{directory}: holds results in satbench 0.2's layout (one file per FPE run "
                f"with all its arms); run `satbench migrate {directory}` to convert them (the "
                f"old files are kept)")
    return None


def check_layout(directory) -> None:
    problem = layout_problem(directory)
    if problem:
        raise SatbenchError(problem)


def mark_layout(directory) -> None:
    marker = Path(directory) / LAYOUT_FILE
    if not marker.exists():
        with atomic_path(marker) as temp:
            temp.write_text(json.dumps({"layout": LAYOUT}) + "\n")


def write_run(directory, key: str, rows: list[dict], spec: dict) -> Path:
    """Store one run's rows under its key, atomically; known columns get their schema dtypes
    (a None in a one-row frame would otherwise be stored as the Null type)."""
    dtypes = {c.name: c.dtype for c in columns(with_methods=False) if c.dtype != pl.Object}
    path = run_path(directory, key)
    frame = pl.DataFrame(rows, infer_schema_length=None,
                         schema_overrides={c: dtypes[c] for c in rows[0] if c in dtypes})
    metadata = {SCHEMA_KEY: SCHEMA, "satbench.run_key": key,
                "satbench.run_spec": json.dumps(spec, sort_keys=True)}
    mark_layout(directory)
    with atomic_path(path) as temp:
        # No column statistics: they help scans of many rows, and in a one-row file they are a
        # third of its bytes.
        frame.write_parquet(temp, metadata=metadata, statistics=False)
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
    if metadata.get(SCHEMA_KEY) == LAYOUT_1_SCHEMA:
        return None, "a satbench 0.2 run file: convert the store with `satbench migrate`"
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
    check_layout(directory)
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
    check_layout(directory)
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

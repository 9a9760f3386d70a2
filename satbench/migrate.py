"""Convert a results store from satbench 0.2's layout to today's, keeping every old file.

Layout 1 (satbench 0.2) stored one file per FPE run: a RunSpec with alpha, split, output_scale and
a list of arms, and one row per arm. Layout 2 stores one file per method run (satbench.runs):
the arms become runs keyed by their context and their own params, so the dense baseline that
layout 1 stored once per (alpha, split) of a context is stored once. Those copies were trained
from the same context and seed, so they must agree bitwise; the migration checks that and stops,
writing nothing, if they do not.

Each converted row gets the columns of today's rows: run_key and context_key as seeding scheme 1
keys them (today's code draws other random numbers, so it never reuses them as its own runs),
the spec columns generated from the new specs (positive_fraction and formula_fingerprint were not
recorded in layout 1 and are taken from the stored TaskSpec), and every stored outcome column
unchanged, except `gram`, which is kept for training seed 0 only, as satbench 0.4 writes it.
The old run files and sweep manifests move to `layout-1/` inside the store; nothing is deleted.
`satbench verify` then retrains converted runs against today's code.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from satbench.errors import SatbenchError
from satbench.runs import RunSpec
from satbench.specs import TaskSpec, TrainingContext
from satbench.store import (
    LAYOUT_1_SCHEMA,
    LAYOUT_FILE,
    SCHEMA,
    SCHEMA_KEY,
    layout_problem,
    mark_layout,
    run_path,
    runs_dir,
    write_run,
)
from satbench.sweeps.spec import SweepSpec
from satbench.sweeps.verify import PROVENANCE
from satbench.training.rows import run_columns

OLD_DIR = "layout-1"
CONTEXT_FIELDS = ("neurons", "warmup_steps", "expanded_steps", "learning_rate", "batch_size",
                  "weight_decay", "seed")
PARAMS = {"dense": (), "dense_reset": (), "wide_dense": ("alpha",),  # layout 1's arms
          "fpe": ("alpha", "split", "output_scale"),
          "sparse_scratch": ("alpha", "split", "output_scale")}
# Layout-1 columns that the new spec columns replace; every other column is an outcome, copied.
OLD_SPEC_COLUMNS = ("run_key", "method", "split", "alpha", "neurons", "clauses", "vars", "width",
                    "form", "encoding", "target", "planted", "n_train", "n_test", "seed",
                    "task_seed", "output_scale", "warmup_steps", "expanded_steps",
                    "learning_rate", "batch_size", "weight_decay")
MANIFEST_FIELDS = ("n_vars", "width", "form", "encoding", "target", "n_train", "n_test",
                   "warmup_steps", "expanded_steps", "learning_rate", "batch_size",
                   "output_scale")  # single values in a layout-1 sweep manifest


@dataclass
class Migration:
    old_files: int
    runs: int  # run files written
    duplicates: int  # layout-1 rows that repeated a run already converted (bitwise equal)
    manifests: int


def _old_files(directory: Path) -> list[Path]:
    files = []
    for path in sorted(runs_dir(directory).glob("*.parquet")):
        try:
            schema = pl.read_parquet_metadata(path).get(SCHEMA_KEY)
        except Exception as error:  # polars raises several types for unreadable files
            raise SatbenchError(f"{path}: not a readable Parquet file ({type(error).__name__}); "
                                f"move it out of the store and migrate again") from None
        if schema == LAYOUT_1_SCHEMA:
            files.append(path)
        elif schema != SCHEMA:
            raise SatbenchError(f"{path}: not a satbench run file (schema {schema!r})")
    return files


def convert_row(row: dict, spec: dict) -> tuple[RunSpec, dict]:
    """A layout-1 arm row and its RunSpec dict, as today's RunSpec and row."""
    context = TrainingContext(TaskSpec.from_dict(spec["task"]),
                              **{name: spec[name] for name in CONTEXT_FIELDS})
    method = row["method"]
    if method not in PARAMS:
        raise SatbenchError(f"method {method!r}: not an arm of satbench 0.2")
    run = RunSpec(context, method, {name: spec[name] for name in PARAMS[method]})
    new = run_columns(run)
    for column in OLD_SPEC_COLUMNS[1:]:  # the same name in both layouts; run_key is new
        if column in new and column in row and row[column] != new[column]:
            raise SatbenchError(f"{column}: the row says {row[column]!r}, its spec "
                                f"{new[column]!r}")
    new.update({k: v for k, v in row.items() if k not in OLD_SPEC_COLUMNS})
    # Keyed as satbench 0.2 keyed them (seeding scheme 1), which today's runs never are: a sweep
    # retrains them rather than reuse rows drawn from other random numbers, and verify names
    # them as stale instead of reporting drift.
    new["run_key"], new["context_key"] = run.key_under(1), context.key_under(1)
    if run.context.seed != 0:
        new["gram"] = None  # kept for training seed 0 only, as satbench 0.4 stores it
    return run, new


def _same_outcome(a: dict, b: dict) -> bool:
    def outcome(row):
        return {k: v for k, v in row.items() if k not in PROVENANCE and k != "run_key"}

    left, right = outcome(a), outcome(b)
    return left.keys() == right.keys() and all(
        left[k] == right[k] or (left[k] != left[k] and right[k] != right[k]) for k in left)


def convert_manifest(data: dict) -> SweepSpec:
    """A layout-1 sweep manifest (SweepSpec 0.2) as today's SweepSpec."""
    axes = {"alpha": data["alphas"], "split": data["splits"]}
    axes |= {name: [data[name]] for name in MANIFEST_FIELDS if name in data}
    return SweepSpec(data["name"], data["cells"], data["seeds"], data["arms"],
                     tuple(axes.items()))


def is_current(directory: Path) -> bool:
    """A store of today's layout: its marker says so (what satbench writes with a first run)."""
    return (directory / LAYOUT_FILE).exists() and layout_problem(directory) is None


def migrate_store(directory) -> Migration | None:
    """Convert every layout-1 file of `directory`; all checks pass before anything is written.

    None when the store is already current (nothing touched). A directory that does not exist,
    or holds no satbench 0.2 store, is an error: a mistyped path must not become a new store.
    """
    from satbench.sweeps.engine import manifest_path, write_manifest

    directory = Path(directory)
    if not directory.is_dir():
        raise SatbenchError(f"{directory}: " + ("not a directory" if directory.exists()
                                                else "no such directory"))
    old_files = _old_files(directory)
    if not old_files and is_current(directory):
        return None
    converted: dict[str, tuple[RunSpec, dict, Path]] = {}
    duplicates = 0
    for path in old_files:
        spec = json.loads(pl.read_parquet_metadata(path)["satbench.run_spec"])
        for row in pl.read_parquet(path).to_dicts():
            try:
                run, new = convert_row(row, spec)
            except SatbenchError as error:
                raise SatbenchError(f"{path}: {row.get('method')}: {error}") from None
            key = new["run_key"]
            if key in converted:
                if not _same_outcome(converted[key][1], new):
                    raise SatbenchError(
                        f"{path}: {run.describe()}: differs from the same run stored in "
                        f"{converted[key][2]}; nothing was migrated")
                duplicates += 1
                continue
            converted[key] = (run, new, path)
    manifests = sorted((directory / "sweeps").glob("*.json"))
    specs = []
    for path in manifests:
        try:
            data = json.loads(path.read_text())
            specs.append(data if "spec" in data else convert_manifest(data))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise SatbenchError(f"{path}: unreadable sweep manifest ({type(error).__name__})") \
                from None
    if not old_files and not any(isinstance(spec, SweepSpec) for spec in specs):
        marked = (directory / LAYOUT_FILE).exists()  # by a satbench that is not this one
        raise SatbenchError(marked and layout_problem(directory) or (
            f"{directory}: holds no satbench 0.2 results store (no 0.2 run files in "
            f"{runs_dir(directory)}, no 0.2 sweep manifests); nothing was migrated"))
    old_dir = directory / OLD_DIR
    moves = [(path, old_dir / "runs") for path in old_files] + [
        (path, old_dir / "sweeps") for path, spec in zip(manifests, specs, strict=True)
        if isinstance(spec, SweepSpec)]
    taken = [str(target / path.name) for path, target in moves if (target / path.name).exists()]
    if taken:
        raise SatbenchError(f"{taken[0]}: already exists ({len(taken)} such files); move them "
                            f"away and migrate again; nothing was migrated")
    for key, (run, row, _) in converted.items():
        if not run_path(directory, key).exists():
            write_run(directory, key, [row], run.to_dict())
    for path, spec in zip(manifests, specs, strict=True):
        if isinstance(spec, SweepSpec):
            _move(path, old_dir / "sweeps")
            if not manifest_path(spec, directory).exists():
                write_manifest(spec, directory)
    for path in old_files:
        _move(path, old_dir / "runs")
    mark_layout(directory)
    return Migration(len(old_files), len(converted), duplicates,
                     sum(isinstance(s, SweepSpec) for s in specs))


def _move(path: Path, target_dir: Path) -> None:
    target_dir.mkdir(parents=True, exist_ok=True)
    os.replace(path, target_dir / path.name)  # checked free before anything was written


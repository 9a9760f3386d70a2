"""Check that stored results are what the code computes now.

Two checks, for a results store or a committed report (a report.md whose `- Results:` line names
its stores):
- retrain: stored runs are trained again from the RunSpec each run file carries, and every stored
  column must come out bitwise the same, provenance (version, commit, device, threads, wall
  time) aside;
- re-render: the report is rendered again from its stores, and its text must be the same.

So a reference report can never silently drift from the code: CI runs both on the committed
reports (tests/test_reference_reports.py), and `satbench verify` runs them for anyone.
"""

import dataclasses
import json
import logging
import math
import re
import tempfile
from contextlib import closing
from pathlib import Path

import polars as pl

from satbench.errors import SatbenchError
from satbench.row_schema import OUTCOME
from satbench.runs import RunSpec
from satbench.specs import TaskSpec, TrainingContext, column_of
from satbench.store import find_runs, read_run, runs_dir
from satbench.sweeps.engine import build_datasets, describe_run, jobs_with_datasets, train_job
from satbench.sweeps.executors import SerialExecutor, executor_session

log = logging.getLogger("satbench.verify")

# Columns that say who computed a row and how long it took, not what was computed.
PROVENANCE = ("satbench_version", "git_commit", "torch_version", "device", "numeric_mode",
              "cpu_capability", "torch_threads", "wall_seconds")
_RESULTS_LINE = re.compile(r"- Results: (.*)")
# Spec fields added after rows were first stored: a row without one was written at its default.
ADDED_DEFAULTS = {column_of(f): f.default for spec in (TaskSpec, TrainingContext)
                  for f in dataclasses.fields(spec) if f.metadata.get("added")}
OUTCOME_SINCE = {column.name: column.since for column in OUTCOME}


def report_stores(report_dir) -> list[Path]:
    """The results stores a report was written from, as its `- Results:` line names them."""
    path = Path(report_dir) / "report.md"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SatbenchError(f"{path}: cannot read the report ({error.strerror})") from None
    for line in lines:
        match = _RESULTS_LINE.fullmatch(line)
        if match:
            return [Path(name) for name in re.findall(r"`([^`]+)`", match[1])]
    raise SatbenchError(f"{path}: no '- Results:' line naming the report's stores")


def stored_runs(store) -> dict[str, RunSpec]:
    """Every stored run's spec, by run key, from the metadata of its file."""
    keys = sorted(path.stem for path in runs_dir(store).glob("*.parquet"))
    stored, skipped = find_runs(store, keys, move_damaged=False)
    for message in skipped:
        log.warning(message)
    if not stored:
        raise SatbenchError(f"{store}: no stored runs to verify")
    specs = {}
    for key in sorted(stored):
        path = runs_dir(store) / f"{key}.parquet"
        try:
            specs[key] = RunSpec.from_dict(json.loads(
                pl.read_parquet_metadata(path)["satbench.run_spec"]))
        except SatbenchError as error:
            raise SatbenchError(f"{path}: {error} (a run made with a plugin needs it installed "
                                f"or given with --plugin)") from None
    return specs


def spread(items: list, count: int | None) -> list:
    """`count` items spread evenly over the list (all of them when count is None)."""
    if count is None or count >= len(items):
        return items
    return [items[round(i * (len(items) - 1) / max(count - 1, 1))] for i in range(count)]


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _added_since(column: str, stored: dict, fresh: dict) -> bool:
    """A column the stored row predates: a spec field at its default (as keys ignore it), or an
    outcome column first written by a later satbench than the row's."""
    if column in ADDED_DEFAULTS:
        return _same(fresh[column], ADDED_DEFAULTS[column])
    since = OUTCOME_SINCE.get(column)
    return since is not None and _version(stored.get("satbench_version")) < _version(since)


def _version(text) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(text))[:3]) or (0,)


def row_differences(stored: dict, fresh: dict) -> list[str]:
    """What differs between a run's stored row and its row computed now."""
    out = []
    for column in sorted(set(stored) | set(fresh)):
        if column in PROVENANCE or (column not in stored and _added_since(column, stored,
                                                                          fresh)):
            continue
        if column not in stored or column not in fresh:
            out.append(f"{column}: only in the {'stored' if column in stored else 'fresh'} row")
        elif not _same(stored[column], fresh[column]):
            shown = ("(lists differ)" if isinstance(stored[column], list)
                     else f"{stored[column]!r} stored, {fresh[column]!r} now")
            out.append(f"{column}: {shown}")
    return out


def _requested_format(row: dict) -> str:
    """The layer format a run was trained with: a forced one shows in a structured run's row."""
    return "auto" if row.get("layer_format", "masked") == "masked" else row["layer_format"]


def runs_to_verify(store, count: int | None = None) -> list[RunSpec]:
    """`count` of the store's runs, spread over its keys (all of them when count is None)."""
    return spread(list(stored_runs(store).values()), count)


def retrain_differences(store, chosen: list[RunSpec], executor=None, on_run=None) -> list[str]:
    """Train the `chosen` runs of the store again, as a sweep trains them, and name every stored
    value that the code no longer computes."""
    executor = executor or SerialExecutor()
    stored = {run.key: read_run(store, run.key)[0] for run in chosen}
    tasks = list({run.context.task.fingerprint: run.context.task for run in chosen}.values())
    with executor_session(executor):
        datasets = build_datasets(tasks, executor, progress=False)
        by_format = {}
        for run in chosen:
            by_format.setdefault(_requested_format(stored[run.key]), []).append(run)
        jobs = [job for layer_format, group in by_format.items()
                for job in jobs_with_datasets(group, "batched", layer_format, datasets)]
        out = []
        with closing(executor.map_unordered(train_job, jobs)) as results:
            for job_runs, rows, problem in results:
                if problem is not None:
                    raise SatbenchError(f"{store}: {describe_run(job_runs[0])}: {problem}")
                for run, fresh in zip(job_runs, rows, strict=True):
                    out += [f"{store}: {describe_run(run)}: {difference}"
                            for difference in row_differences(stored[run.key], fresh)]
                    if on_run is not None:
                        on_run(1)
    return out


def render_differences(report_dir) -> list[str]:
    """Lines of the committed report.md that a fresh render from its stores does not give."""
    from satbench.reports.render import write_report

    report_dir = Path(report_dir)
    stores = report_stores(report_dir)
    with tempfile.TemporaryDirectory() as scratch:
        fresh = write_report(stores if len(stores) > 1 else stores[0], scratch).read_text()
    committed = (report_dir / "report.md").read_text()
    if fresh == committed:
        return []
    old, new = committed.splitlines(), fresh.splitlines()
    changed = [f"{report_dir / 'report.md'}:{n}: committed {a!r}, now {b!r}"
               for n, (a, b) in enumerate(zip(old, new, strict=False), start=1) if a != b]
    if len(old) != len(new):
        changed.append(f"{report_dir / 'report.md'}: {len(old)} lines committed, "
                       f"{len(new)} now")
    return changed

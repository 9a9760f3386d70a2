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
import torch

from satbench import numerics
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
    stale = [key for key, run in specs.items() if run.key != key]
    if stale:
        raise SatbenchError(
            f"{runs_dir(store) / stale[0]}.parquet: stored by an earlier satbench under another "
            f"key ({len(stale)} of {len(specs)} runs): today's seeding scheme or method/splitter "
            f"version draws other numbers, so these rows cannot be verified; retrain them into "
            f"a new store")
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


def same_platform(stored: dict) -> bool:
    """Whether this process computes as the stored row's did, so that retraining must give its
    bits: the same numeric mode and torch, and in the native mode the same CPU capability too.
    The portable mode computes alike on every x86-64 CPU (satbench.numerics)."""
    mode = numerics.mode()
    return (stored.get("numeric_mode") == mode
            and stored.get("torch_version") == torch.__version__
            and (mode == "portable" or stored.get("cpu_capability") == numerics.cpu_capability()))


# Rows of another platform (numeric mode, torch, or CPU in the native mode) cannot be retrained
# bit for bit: training amplifies round-off, and one run's values move far (between two CPUs in
# the native mode, measured on the quick preset: up to 3.7 points of test accuracy, 29% of a
# capacity). What must hold is the report: every verdict and every printed figure of the report
# made from the retrained rows is the one made from the stored rows. That is the tolerance; a
# float may differ by anything within it, any other value (a count, a name, a flag) not at all.
@dataclasses.dataclass
class Check:
    """What retraining found: drift lines, and the values that differ by platform rounding (the
    count and the largest absolute difference)."""

    drift: list[str] = dataclasses.field(default_factory=list)
    rounded: int = 0
    largest: float = 0.0

    def add(self, other: "Check") -> "Check":
        return Check(self.drift + other.drift, self.rounded + other.rounded,
                     max(self.largest, other.largest))


def _numbers(value):
    """The numbers in a value (a float, a list of them, or a JSON text such as BIMT's graph) and
    what is left of it with each number replaced by a placeholder; None when it holds none."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)
        except ValueError:
            return None
    numbers = []

    def strip(item):
        if isinstance(item, float):
            numbers.append(item)
            return "#"
        if isinstance(item, list):
            return [strip(part) for part in item]
        if isinstance(item, dict):
            return {key: strip(part) for key, part in item.items()}
        return item

    shape = strip(value)
    return (numbers, shape) if numbers else None


def _rounding(stored, fresh) -> float | None:
    """The largest difference between two values that differ only in their finite floats; None
    when they differ otherwise."""
    a, b = _numbers(stored), _numbers(fresh)
    if a is None or b is None or a[1] != b[1] or len(a[0]) != len(b[0]):
        return None
    largest = 0.0
    for x, y in zip(a[0], b[0], strict=True):
        if _same(x, y):
            continue
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        largest = max(largest, abs(x - y))
    return largest


def row_check(stored: dict, fresh: dict, bitwise: bool = True) -> Check:
    """What differs between a run's stored row and its row computed now: drift, or (unless
    bitwise) platform rounding, left for the report to judge."""
    check = Check()
    for column in sorted(set(stored) | set(fresh)):
        if column in PROVENANCE or (column not in stored and _added_since(column, stored,
                                                                          fresh)):
            continue
        if column not in stored or column not in fresh:
            check.drift.append(f"{column}: only in the "
                               f"{'stored' if column in stored else 'fresh'} row")
        elif not _same(stored[column], fresh[column]):
            rounding = None if bitwise else _rounding(stored[column], fresh[column])
            if rounding is not None:
                check.rounded += 1
                check.largest = max(check.largest, rounding)
                continue
            shown = ("(lists differ)" if isinstance(stored[column], list)
                     else f"{stored[column]!r} stored, {fresh[column]!r} now")
            check.drift.append(f"{column}: {shown}")
    return check


def _requested_format(row: dict) -> str:
    """The layer format a run was trained with: a forced one shows in a structured run's row."""
    return "auto" if row.get("layer_format", "masked") == "masked" else row["layer_format"]


def runs_to_verify(store, count: int | None = None) -> list[RunSpec]:
    """`count` of the store's runs, spread over its keys (all of them when count is None)."""
    return spread(list(stored_runs(store).values()), count)


def retrain_differences(store, chosen: list[RunSpec], executor=None, on_run=None) -> list[str]:
    """Train the `chosen` runs of the store again, as a sweep trains them, and name every stored
    value that the code no longer computes (rows of another platform: beyond its rounding)."""
    return retrain_check(store, chosen, executor, on_run)[0].drift


def retrain_check(store, chosen: list[RunSpec], executor=None,
                  on_run=None) -> tuple[Check, dict[str, dict]]:
    """Train the `chosen` runs of the store again, as a sweep trains them, and compare: bitwise
    where this process computes as the stored rows' did (same_platform), else within the
    platform tolerance. Also returns the fresh rows of the runs that differ by rounding, by run
    key, for re-rendering the report from them."""
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
        check, rounded_rows = Check(), {}
        with closing(executor.map_unordered(train_job, jobs)) as results:
            for job_runs, rows, problem in results:
                if problem is not None:
                    raise SatbenchError(f"{store}: {describe_run(job_runs[0])}: {problem}")
                for run, fresh in zip(job_runs, rows, strict=True):
                    found = row_check(stored[run.key], fresh, same_platform(stored[run.key]))
                    check = check.add(Check([f"{store}: {describe_run(run)}: {difference}"
                                             for difference in found.drift],
                                            found.rounded, found.largest))
                    if found.rounded:
                        rounded_rows[run.key] = fresh
                    if on_run is not None:
                        on_run(1)
    return check, rounded_rows


def _render(stores: list[Path], replaced: dict[str, dict] | None = None) -> str:
    from satbench.reports.render import write_report

    with tempfile.TemporaryDirectory() as scratch:
        return write_report(stores if len(stores) > 1 else stores[0], scratch,
                            replaced).read_text()


def _changed_lines(where: str, old_text: str, new_text: str, old: str, new: str) -> list[str]:
    if old_text == new_text:
        return []
    old_lines, new_lines = old_text.splitlines(), new_text.splitlines()
    changed = [f"{where}:{n}: {old} {a!r}, {new} {b!r}" for n, (a, b)
               in enumerate(zip(old_lines, new_lines, strict=False), start=1) if a != b]
    if len(old_lines) != len(new_lines):
        changed.append(f"{where}: {len(old_lines)} lines {old}, {len(new_lines)} {new}")
    return changed


def render_differences(report_dir, replaced: dict[str, dict] | None = None) -> list[str]:
    """Lines of the committed report.md that a fresh render from its stores does not give.
    replaced: {run key: row}, rows to render in place of the stored ones (those retrained on
    another platform)."""
    report_dir = Path(report_dir)
    committed = (report_dir / "report.md").read_text()
    return _changed_lines(str(report_dir / "report.md"), committed,
                          _render(report_stores(report_dir), replaced), "committed", "now")


def rounding_differences(store, replaced: dict[str, dict]) -> list[str]:
    """For a store verified without its report: the lines of the report made from its stored
    rows that the report made with the `replaced` rows (retrained on another platform) in their
    place does not give."""
    return _changed_lines(f"{store} (its report)", _render([Path(store)]),
                          _render([Path(store)], replaced), "from the stored rows",
                          "from the retrained rows")

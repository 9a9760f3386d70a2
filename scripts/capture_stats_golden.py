"""Record the statistics calls reports make, with the answers of the pre-scipy stats module.

    .venv/bin/python scripts/capture_stats_golden.py reports/quick reports/paper

For each report directory given, this reads the results stores named on its report.md's
"- Results: " line, renders the report from them while recording every call the report code makes
to summarize and least_squares (pooled_mean and trend_slope, which 0.6's reports called too, are
gone with the bootstrap verdicts), and evaluates each distinct call with
the stats module of commit OLD_COMMIT, the last with the hand-written Student t. The calls and
the old answers go to tests/data/stats_golden.json, and tests/test_stats_golden.py checks that
today's functions give the same answers and that the committed stores still make the same calls.
Run from a git clone: the old module is read from git history. The tests that decide claims
(cells_random, cells_fixed, trend_test, holm, ...; issue 22) did not exist at OLD_COMMIT, so they
are not recorded here: tests/test_stats_claims.py checks each against scipy or a hand computation.
"""

import dataclasses
import json
import subprocess
import sys
import tempfile
import types
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from satbench.reports import stats
from satbench.reports.aggregate import load
from satbench.reports.render import render
from satbench.sweeps.verify import report_stores

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "stats_golden.json"
OLD_COMMIT = "bff00dc"
RECORDED = ("summarize", "least_squares")


def stores(report_dir) -> list[Path]:
    """The results directories the report names on its "- Results:" line (repo-relative)."""
    return [ROOT / name for name in report_stores(report_dir)]


def report_name(report_dir) -> str:
    """The report's key in the golden file: its directory relative to the repository root."""
    path = Path(report_dir).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def plain(value):
    """An argument as JSON: a seed as is, a sample as a list of floats (NaN for a missing value),
    a list of groups as a list of those."""
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple) and value and np.ndim(value[0]) == 1:
        return [plain(group) for group in value]
    return np.asarray(value, dtype=float).tolist()


def recorded(name: str, args, kwargs) -> dict:
    """One call as JSON. A summary does not depend on the order of its sample, and the report
    draws one sample in no fixed order (the paper cell's dense runs, from polars' unique), so
    summarize's sample is recorded sorted; every other function is recorded as called."""
    args = [plain(a) for a in args]
    if name == "summarize":
        args[0] = np.sort(args[0]).tolist()
    return {"function": name, "args": args, "kwargs": {k: plain(v) for k, v in kwargs.items()}}


def call_key(call: dict) -> str:
    return json.dumps({k: call[k] for k in ("function", "args", "kwargs")}, sort_keys=True)


@contextmanager
def recording(calls: list[dict]):
    """Record into `calls` each call of the RECORDED functions made through satbench.reports.stats.

    Only the outermost call counts: what a recorded function calls inside is its own business,
    which the golden file must not depend on.
    """
    originals = {name: getattr(stats, name) for name in RECORDED}
    depth = 0

    def wrap(name, function):
        def wrapper(*args, **kwargs):
            nonlocal depth
            if depth == 0:
                calls.append(recorded(name, args, kwargs))
            depth += 1
            try:
                return function(*args, **kwargs)
            finally:
                depth -= 1
        return wrapper

    for name, function in originals.items():
        setattr(stats, name, wrap(name, function))
    try:
        yield calls
    finally:
        for name, function in originals.items():
            setattr(stats, name, function)


def report_calls(store_dirs) -> list[dict]:
    """The distinct calls a report on these stores makes, in first-call order."""
    calls = []
    with recording(calls), tempfile.TemporaryDirectory() as directory:
        render(load(store_dirs), Path(directory))
    return list({call_key(call): call for call in calls}.values())


def as_floats(result) -> dict[str, float] | None:
    """A Summary, Estimate or Fit as {field: float}; None stays None (nothing computable)."""
    if result is None:
        return None
    return {k: float(v) for k, v in dataclasses.asdict(result).items()}


def old_stats(commit: str = OLD_COMMIT) -> types.ModuleType:
    """satbench/reports/stats.py as it was at `commit`, as a module of its own."""
    source = subprocess.run(["git", "show", f"{commit}:satbench/reports/stats.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType(f"stats_{commit}")
    exec(compile(source, f"{commit}:satbench/reports/stats.py", "exec"), module.__dict__)
    return module


def dump(golden: dict) -> str:
    """JSON with one call per line: compact, and a regenerated file diffs call by call."""
    reports = ",\n".join(
        f" {json.dumps(name)}: [\n" + ",\n".join(f"  {json.dumps(call)}" for call in calls)
        + "\n ]" for name, calls in golden["reports"].items())
    return f'{{"old_commit": {json.dumps(golden["old_commit"])}, "reports": {{\n{reports}\n}}}}\n'


def main(report_dirs: list[str]) -> None:
    if not report_dirs:
        sys.exit(__doc__)
    old = old_stats()
    golden = {"old_commit": OLD_COMMIT, "reports": {}}
    for report_dir in report_dirs:
        calls = report_calls(stores(report_dir))
        for call in calls:
            call["old"] = as_floats(getattr(old, call["function"])(*call["args"],
                                                                     **call["kwargs"]))
        golden["reports"][report_name(report_dir)] = calls
        print(f"{report_dir}: {len(calls)} distinct calls", file=sys.stderr)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(dump(golden), encoding="utf-8")
    print(f"wrote {GOLDEN.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])

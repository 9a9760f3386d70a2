"""The reports' statistics from scipy are the numbers of the hand-written code they replaced.

tests/data/stats_golden.json holds every distinct call the committed reports make to summarize
and least_squares, each with the answer of the old stats module (its own
Student t by continued fraction and bisection). scripts/capture_stats_golden.py writes it.
"""

import importlib.util
import json
import math
from pathlib import Path

import pytest

from satbench.reports import stats

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "capture_stats_golden.py"
TOLERANCE = 1e-9  # absolute, on every field: p-values, interval ends, slopes, R^2


def _load_script():
    spec = importlib.util.spec_from_file_location("capture_stats_golden", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


capture = _load_script()  # one recording of report calls for the script and for this test
RERUN = ("rerun `.venv/bin/python scripts/capture_stats_golden.py REPORT_DIR...` on the "
         "committed reports and commit tests/data/stats_golden.json")


@pytest.fixture(scope="module")
def golden() -> dict:
    if not capture.GOLDEN.exists():
        pytest.fail(f"{capture.GOLDEN} is missing: {RERUN}")
    data = json.loads(capture.GOLDEN.read_text(encoding="utf-8"))
    if not data["reports"]:
        pytest.fail(f"{capture.GOLDEN} covers no report: {RERUN}")
    return data


def mismatches(new: dict | None, old: dict | None) -> list[str]:
    """The fields where new and old differ by more than TOLERANCE (NaN equals NaN)."""
    if new is None or old is None or new.keys() != old.keys():
        return [] if new == old else [f"new {new}, old {old}"]
    return [f"{field}: new {new[field]!r}, old {old[field]!r}" for field in old
            if not (math.isnan(new[field]) and math.isnan(old[field]))
            and not abs(new[field] - old[field]) <= TOLERANCE]


def test_every_golden_call_gives_the_old_answer(golden):
    failures = []
    for report, calls in golden["reports"].items():
        for call in calls:
            result = getattr(stats, call["function"])(*call["args"], **call["kwargs"])
            failures += [f"{report}: {call['function']}: {problem}"
                         for problem in mismatches(capture.as_floats(result), call["old"])]
    assert not failures, f"{len(failures)} fields moved by more than {TOLERANCE}:\n" + \
        "\n".join(failures[:20])


@pytest.mark.slow
def test_the_golden_calls_are_those_the_committed_reports_make(golden):
    problems = []
    for report, calls in golden["reports"].items():
        directory = capture.ROOT / report
        try:
            stores = capture.stores(directory)
        except (OSError, ValueError) as error:
            problems.append(f"{report}: cannot find its results stores: {error}")
            continue
        absent = [str(s) for s in stores if not s.is_dir()]
        if not stores or absent:
            problems.append(f"{report}: its results stores ({', '.join(absent) or 'none named'})"
                            f" are not in the repository, so the golden calls cannot be checked "
                            f"against the data they came from")
            continue
        now = {capture.call_key(call) for call in capture.report_calls(stores)}
        recorded = {capture.call_key(call) for call in calls}
        if now != recorded:
            problems.append(f"{report}: of the report's statistics calls on its stores, "
                            f"{len(now - recorded)} are new and {len(recorded - now)} of the "
                            f"golden file's {len(recorded)} are gone: the stores or the report "
                            f"code changed; {RERUN}")
    assert not problems, "\n".join(problems)

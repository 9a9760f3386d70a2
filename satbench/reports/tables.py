"""Tables: plain text for the terminal, Markdown for reports."""

import math
import re

from satbench.reports import stats

COLUMNS = (  # (header, row key, format)
    ("method", "method", "{}"),
    ("test acc", "test_accuracy", "{:.4f}"),
    ("train acc", "train_accuracy", "{:.4f}"),
    ("gain vs dense", "relative_gain", "{:+.2%}"),
    ("nnz W", "nnz_weights", "{}"),
    ("mean|cos|", "mean_abs_cos", "{:.3f}"),
    ("mean|cos| shared", "mean_abs_cos_shared_inputs", "{:.3f}"),
    ("capacity", "capacity_total", "{:.2f}"),
    ("clause integrity", "clause_integrity", "{:.2f}"),
    ("seconds", "wall_seconds", "{:.1f}"),
)


def _cell(fmt: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def method_label(row: dict) -> str:
    """The method and its params' values, e.g. 'fpe alpha=2 split=clause output_scale=divide'."""
    params = [name for name in (row.get("method_params") or "").split(",") if name]
    return " ".join([row["method"]] + [f"{name}={row.get(name)}" for name in params])


def runs_table(rows: list[dict]) -> str:
    """One line per run, with the relative test-accuracy gain over the dense run (if present)."""
    dense = next((row["test_accuracy"] for row in rows if row["method"] == "dense"), None)
    rows = [{**row, "method": method_label(row) + (" (diverged)" if row.get("diverged") else ""),
             "relative_gain": None if dense is None else row["test_accuracy"] / dense - 1}
            for row in rows]
    cells = [[header for header, _, _ in COLUMNS]]
    cells += [[_cell(fmt, row.get(key)) for _, key, fmt in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(line, widths, strict=True))) for line in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def percent_ci(summary: stats.Summary) -> str:
    """A mean accuracy with its 95% t half-width, in %."""
    if summary.n == 0:
        return "–"
    if math.isnan(summary.half_width):
        return f"{100 * summary.mean:.1f}"
    return f"{100 * summary.mean:.1f} ± {100 * summary.half_width:.1f}"


def by_setting(settings) -> list[str]:
    """Setting labels in natural order: numbers by value, so 1000 steps come before 3000 and
    10000 (a plain sort puts 10000 second), and 0.25 before 0.5."""
    def key(label: str):
        parts = re.split(r"(\d+(?:\.\d+)?(?:e-?\d+)?)", label)
        return [(0, float(part), "") if index % 2 else (1, 0.0, part)
                for index, part in enumerate(parts)]

    return sorted(settings, key=key)

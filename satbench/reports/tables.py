"""Plain-text tables for the terminal."""

import math

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


def arms_table(rows: list[dict]) -> str:
    """One line per arm, with the relative test-accuracy gain over the dense arm."""
    dense = next(row["test_accuracy"] for row in rows if row["method"] == "dense")
    rows = [{**row, "relative_gain": row["test_accuracy"] / dense - 1} for row in rows]
    cells = [[header for header, _, _ in COLUMNS]]
    cells += [[_cell(fmt, row.get(key)) for _, key, fmt in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(line, widths, strict=True))) for line in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)

"""Every method against the dense baseline and against the methods it names, per cell.

Generic over the method registry: a plugin's method appears here with no report code of its own.
Each comparison pairs runs of one training context (same task, data order, seed) and, between
two methods with params, the same values of the params both have (fpe and sparse_scratch at one
alpha and split; fpe and wide_dense at one alpha). The statistics are the report's: mean ± 95%
Student t half-width over the paired differences, and the paired t-test's p.
"""

import math

import polars as pl

from satbench.reports import stats
from satbench.reports.aggregate import Results, param_columns
from satbench.reports.conclusions import format_p, points
from satbench.reports.tables import markdown_table, method_label, percent_ci
from satbench.specs import BASELINE

BUDGET_TEXT = {"nnz_weights": "dense's non-zero weights", "none": "not matched (a reference)",
               "baseline": "the baseline"}


def _labelled(results: Results) -> pl.DataFrame:
    """The stored rows with each context's setting and a label for each method and params."""
    settings = results.runs.select("context_key", "setting").unique("context_key")
    rows = results.rows.join(settings, on="context_key", how="inner")
    return rows.with_columns(pl.Series("label", [method_label(r) for r in rows.to_dicts()]))


def _params_of(rows: pl.DataFrame, method: str) -> list[str]:
    own = rows.filter(pl.col("method") == method)
    return [c for c in param_columns(own) if c in own.columns]


def _budget(row: dict) -> str:
    if row["method"] == BASELINE:
        return BUDGET_TEXT["baseline"]
    return BUDGET_TEXT.get(row.get("budget"), str(row.get("budget")))


def paired_differences(rows: pl.DataFrame, label: str, other: str) -> pl.Series:
    """test_accuracy of the runs labelled `label` minus method `other`'s, paired on the context
    and the params both have."""
    mine = rows.filter(pl.col("label") == label)
    method = mine["method"][0]
    common = [c for c in _params_of(rows, method) if c in _params_of(rows, other)]
    theirs = rows.filter(pl.col("method") == other).select(
        "context_key", *common, pl.col("test_accuracy").alias("other"))
    pairs = mine.join(theirs, on=["context_key", *common], how="inner", nulls_equal=True)
    return (pairs["test_accuracy"] - pairs["other"]).drop_nans()


def _difference_text(diffs: pl.Series) -> str:
    summary = stats.summarize(diffs)
    if summary.n == 0:
        return "–"
    spread = "" if math.isnan(summary.half_width) else f" ± {points(summary.half_width, False)}"
    return f"{points(summary.mean)}{spread} (p {format_p(summary.p)}, n={summary.n})"


def comparison_section(results: Results) -> list[str]:
    rows = _labelled(results)
    if BASELINE not in results.methods or rows.is_empty():
        return []
    out = ["## Every method against dense, per cell", "",
           "Test accuracy in %, mean ± 95% t half-width over seeds; differences in points of "
           "test accuracy, paired within each training context (mean ± 95% t half-width, "
           "paired t-test p, number of pairs). Budget: what the method holds equal to the dense "
           "baseline (non-zero weights), or a reference that does not match it.", ""]
    cells = rows.select("setting", "neurons", "clauses").unique().sort(
        "setting", "neurons", "clauses")
    for setting, h, m in cells.iter_rows():
        here = rows.filter((pl.col("setting") == setting) & (pl.col("neurons") == h)
                           & (pl.col("clauses") == m))
        title = f"h={h}, m={m}" + (f", {setting}" if setting else "")
        table_rows = []
        for label in sorted(set(here["label"]), key=lambda t: (t.split(" ")[0] != BASELINE, t)):
            runs = here.filter(pl.col("label") == label)
            first = runs.row(0, named=True)
            others = [o for o in (first.get("compare_with") or "").split(",")
                      if o and o != BASELINE and o in set(here["method"])]
            versus = "; ".join(f"{o} {_difference_text(paired_differences(here, label, o))}"
                               for o in others) or "–"
            table_rows.append([
                label, _budget(first),
                f"{runs['nnz_weights'].mean():.0f}",
                percent_ci(stats.summarize(runs["test_accuracy"])),
                "–" if runs["method"][0] == BASELINE
                else _difference_text(paired_differences(here, label, BASELINE)), versus])
        out += [f"**{title}**", "",
                markdown_table(["method", "budget", "nnz W", "test acc (%)", "vs dense (points)",
                        "vs the methods it names (points)"], table_rows), ""]
    return out

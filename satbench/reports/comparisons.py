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
from satbench.reports.aggregate import Results, groups_by_cell, param_columns
from satbench.reports.conclusions import ci_text, format_p, points
from satbench.reports.tables import by_setting, markdown_table, method_label, percent_ci
from satbench.specs import BASELINE

BUDGET_TEXT = {"nnz_weights": "dense's non-zero weights",
               "macs_per_example": "dense's multiply-adds per example",
               "trainable_parameters": "dense's trainable parameters",
               "none": "not matched (a reference)", "baseline": "the baseline"}
# Cost columns a per-cell table shows when the rows hold them (satbench 0.5 on).
COSTS = (("nnz_weights", "nnz W"), ("macs_per_example", "MACs"),
         ("trainable_parameters", "params"))


def labelled_rows(results: Results) -> pl.DataFrame:
    """The stored rows with each context's setting and a label for each method and params."""
    settings = results.runs.select("context_key", "setting").unique("context_key")
    rows = results.rows.join(settings, on="context_key", how="inner")
    return rows.with_columns(pl.Series("label", [method_label(r) for r in rows.to_dicts()]))


def _params_of(rows: pl.DataFrame, label: str) -> list[str]:
    own = rows.filter(pl.col("label") == label)
    return [c for c in param_columns(own) if c in own.columns]


def _budget(row: dict) -> str:
    if row["method"] == BASELINE:
        return BUDGET_TEXT["baseline"]
    return BUDGET_TEXT.get(row.get("budget"), str(row.get("budget")))


def paired_frame(rows: pl.DataFrame, label: str, other: str) -> pl.DataFrame:
    """The pairs of runs labelled `label` and `other`, paired on the context and the params both
    have (none when those disagree), with their cell and diff = test_accuracy of label − other."""
    mine = rows.filter(pl.col("label") == label)
    common = [c for c in _params_of(rows, label) if c in _params_of(rows, other)]
    theirs = rows.filter(pl.col("label") == other).select(
        "context_key", *common, pl.col("test_accuracy").alias("other"))
    pairs = mine.join(theirs, on=["context_key", *common], how="inner", nulls_equal=True)
    pairs = pairs.with_columns((pl.col("test_accuracy") - pl.col("other")).alias("diff"))
    return pairs.filter(pl.col("diff").is_not_nan())


def paired_differences(rows: pl.DataFrame, label: str, other: str) -> pl.Series:
    """diff of paired_frame, sorted (a canonical order whatever order the rows came in)."""
    return paired_frame(rows, label, other)["diff"].sort()


def named_partners(rows: pl.DataFrame, label: str) -> list[tuple[str, str]]:
    """(shown name, label) of every run label of the methods `label`'s runs name in
    compare_with (dense apart) that pairs with it: the method's name when one of its labels
    pairs, each label when several do (bimt against fpe's clause and random splits)."""
    first = rows.filter(pl.col("label") == label).row(0, named=True)
    out = []
    for method in (first.get("compare_with") or "").split(","):
        if not method or method == BASELINE:
            continue
        labels = sorted(set(rows.filter(pl.col("method") == method)["label"]))
        pairing = [other for other in labels if paired_differences(rows, label, other).len()]
        out += [(method if len(pairing) == 1 else other, other) for other in pairing]
    return out


def _difference_text(diffs: pl.Series) -> str:
    summary = stats.summarize(diffs)
    if summary.n == 0:
        return "–"
    spread = "" if math.isnan(summary.half_width) else f" ± {points(summary.half_width, False)}"
    return f"{points(summary.mean)}{spread} (p {format_p(summary.p)}, n={summary.n})"


def _label_order(label: str):
    return label.split(" ")[0] != BASELINE, label


def _costs(rows: pl.DataFrame) -> list[tuple[str, str]]:
    return [(name, header) for name, header in COSTS
            if name in rows.columns and rows[name].null_count() < rows.height]


def comparison_section(results: Results) -> list[str]:
    rows = labelled_rows(results)
    if BASELINE not in results.methods or rows.is_empty():
        return []
    costs = _costs(rows)
    out = ["## Every method against dense, per cell", "",
           "Test accuracy in %, mean ± 95% t half-width over seeds; differences in points of "
           "test accuracy, paired within each training context (mean ± 95% t half-width, "
           "paired t-test p, number of pairs). Budget: what the method holds equal to the dense "
           "baseline (non-zero weights), or a reference that does not match it.", ""]
    if len(costs) > 1:
        out[-2] = out[-2].replace("(non-zero weights)", "(non-zero weights, multiply-adds per "
                                  "example or trainable parameters)")
        out[-2] += " Costs are means over the cell's runs."
    cells = rows.select("setting", "neurons", "clauses").unique().sort(
        "setting", "neurons", "clauses")
    for setting, h, m in cells.iter_rows():
        here = rows.filter((pl.col("setting") == setting) & (pl.col("neurons") == h)
                           & (pl.col("clauses") == m))
        title = f"h={h}, m={m}" + (f", {setting}" if setting else "")
        table_rows = []
        for label in sorted(set(here["label"]), key=_label_order):
            runs = here.filter(pl.col("label") == label)
            first = runs.row(0, named=True)
            versus = "; ".join(f"{shown} {_difference_text(paired_differences(here, label, o))}"
                               for shown, o in named_partners(here, label)) or "–"
            table_rows.append([
                label, _budget(first),
                *[f"{runs[name].mean():.0f}" for name, _ in costs],
                percent_ci(stats.summarize(runs["test_accuracy"])),
                "–" if runs["method"][0] == BASELINE
                else _difference_text(paired_differences(here, label, BASELINE)), versus])
        out += [f"**{title}**", "",
                markdown_table(["method", "budget", *[header for _, header in costs],
                                "test acc (%)", "vs dense (points)",
                                "vs the methods it names (points)"], table_rows), ""]
    return out


def _pooled_row(rows: pl.DataFrame, label: str, other: str) -> list | None:
    """One pooled comparison of `label` with `other`, as the conclusions compute it (the same
    canonical cell groups and tests): cells, mean, the deciding interval with its model, the
    cells-fixed interval, the raw p and the positive pairs; None when no run pairs."""
    groups = groups_by_cell(paired_frame(rows, label, other))
    if not groups:
        return None
    test = stats.pooled_test(groups)
    values = [v for group in groups for v in group]
    return [len(groups), points(test.value), f"{ci_text(test)} ({test.model})",
            ci_text(stats.cells_fixed(groups)), format_p(test.p),
            f"{sum(v > 0 for v in values)} of {len(values)}"]


def pooled_method_section(results: Results) -> list[str]:
    """Every method against dense at the budget it matches, and against the methods it names,
    pooled over the cells of each setting."""
    rows = labelled_rows(results)
    if BASELINE not in results.methods or rows.is_empty():
        return []
    table = []
    for setting in by_setting(set(rows["setting"])):
        here = rows.filter(pl.col("setting") == setting)
        for label in sorted(set(here["label"]) - {BASELINE}, key=_label_order):
            shown = f"{label}, {setting}" if setting else label
            budget = _budget(here.filter(pl.col("label") == label).row(0, named=True))
            for against, other, matched in [("dense", BASELINE, budget)] + [
                    (name, other, "–") for name, other in named_partners(here, label)]:
                pooled = _pooled_row(here, label, other)
                if pooled is not None:
                    table.append([shown, against, matched, *pooled])
    if not table:
        return []
    return ["## Every method against dense and the methods it names, pooled", "",
            "Paired differences in test accuracy (points) pooled over the cells of each setting: "
            "the mean, the 95% interval with cells random (a t over the cell means, as the "
            "conclusions decide), the cells-fixed (stratified) interval, the unadjusted p of the "
            "cells-random test, and how many pairs are positive. These estimates are "
            "descriptive: a comparison the conclusions make is decided there, on its "
            "family-adjusted p. Budget: what the method holds equal to dense in that "
            "comparison.", "",
            markdown_table(["method", "against", "budget", "cells", "mean (points)",
                            "95% CI, cells random", "95% CI, cells fixed", "p (raw)",
                            "positive"], table), ""]

"""The per-clause target (`target=clauses`: one output per clause), where a CNF and a DNF differ.

Accuracy there is over all outputs (each clause's value); exact match asks for every clause of a
sample at once, which a network that gets most clauses right can still fail on most samples. This
section shows both, for dense and FPE, per line and cell.
"""

import polars as pl

from satbench.reports import stats
from satbench.reports.aggregate import Results, col
from satbench.reports.conclusions import line_label, lines
from satbench.reports.tables import markdown_table, percent_ci

EXACT = "test_exact_match"


def per_clause_section(results: Results) -> list[str]:
    runs = results.runs
    if "target" not in runs.columns or col("fpe") not in runs.columns \
            or col("fpe", EXACT) not in runs.columns:
        return []
    runs = runs.filter(pl.col("target") == "clauses")
    if runs.is_empty():
        return []
    rows = []
    for (setting, alpha, split, h, m), frame in lines(
            runs, by=("setting", "alpha", "split", "neurons", "clauses")):
        rows.append([line_label(setting, alpha, split), h, m, frame.height,
                     *[percent_ci(stats.summarize(frame[col(method, metric)].drop_nulls()))
                       for metric in ("test_accuracy", EXACT) for method in ("dense", "fpe")]])
    return ["## The per-clause target", "",
            "target=clauses: one output per clause. Per-clause accuracy is over all outputs; "
            "exact match counts the samples whose every clause is right. In %, mean ± 95% t "
            "half-width over seeds.", "",
            markdown_table(["line", "h", "m", "seeds", "dense, per clause", "fpe, per clause",
                            "dense, exact match", "fpe, exact match"], rows), ""]

"""What each method's trained first layer looks like, and what each method measured of itself:
clause integrity of the mask and modularity (every method with a sparse first layer), the fixed
classifier's learned scale, the tree's leaf usage. Means with 95% t half-widths over the runs of
each method label and setting.
"""

import math

import polars as pl

from satbench.reports import stats
from satbench.reports.aggregate import Results
from satbench.reports.comparisons import labelled_rows
from satbench.reports.tables import markdown_table

MEASURES = (  # (column, header, format)
    ("mask_clause_integrity", "mask clause integrity", "{:.3f}"),
    ("modularity", "modularity Q", "{:.3f}"),
    ("classifier_scale", "classifier scale", "{:.3g}"),
    ("leaf_entropy", "leaf entropy (bits)", "{:.2f}"),
)


def _mean_text(values: pl.Series, fmt: str) -> str:
    summary = stats.summarize(values.drop_nulls().drop_nans())
    if summary.n == 0:
        return "–"
    spread = "" if math.isnan(summary.half_width) else f" ± {fmt.format(summary.half_width)}"
    return fmt.format(summary.mean) + spread


def structure_section(results: Results) -> list[str]:
    rows = labelled_rows(results)
    measures = [m for m in MEASURES if m[0] in rows.columns
                and rows[m[0]].fill_nan(None).null_count() < rows.height]
    if not measures:
        return []
    table = []
    for (setting, label), frame in rows.sort("setting", "label").group_by(
            "setting", "label", maintain_order=True):
        cells = [_mean_text(frame[name], fmt) for name, _, fmt in measures]
        if any(cell != "–" for cell in cells):
            table.append([f"{label}, {setting}" if setting else label, frame.height, *cells])
    return ["## Structure and each method's own measures", "",
            "Means ± 95% t half-widths over each method's runs (all cells). Mask clause "
            "integrity: of the (hidden unit, clause) pairs where the unit reads some of the "
            "clause's inputs, the share it reads whole (NaN, shown –, for a dense layer). "
            "Modularity: Newman's Q of the |W1| graph of inputs and hidden units under a greedy "
            "partition. Classifier scale: fixed_classifier's learned output scale. Leaf "
            "entropy: tree_cc's leaf usage on the test split, in bits (its depth when every "
            "leaf is used evenly). See docs/results-schema.md.", "",
            markdown_table(["method", "runs", *[header for _, header, _ in measures]], table),
            ""]

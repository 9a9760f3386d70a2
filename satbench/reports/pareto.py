"""The Pareto figure: each method's accuracy against what it costs, non-zero weights and compute.

Cells differ in their dense budget (h x inputs + outputs x h), so every run's cost is taken
relative to the dense run of its own training context and its accuracy as the paired difference
from that run: a method at x = 1 matches dense's budget, and a point above 0 beats dense there.
One point per method label and setting: the mean difference with its 95% t interval over every
pair, at the geometric mean of the cost ratios.
"""

import numpy as np
import polars as pl
from matplotlib import colormaps

from satbench.reports import stats
from satbench.reports.aggregate import Results
from satbench.reports.comparisons import labelled_rows
from satbench.reports.figures import MARKERS, _figure, _save
from satbench.reports.tables import by_setting
from satbench.specs import BASELINE

COLOURS = colormaps["tab20"]  # up to 20 labels, each its own colour
COSTS = (("nnz_weights", "non-zero weights"), ("macs_per_example", "multiply-adds per example"))


def pareto_points(results: Results) -> pl.DataFrame:
    """Per (setting, label): the geometric-mean cost ratios to dense, and the mean paired
    accuracy difference from dense with its t half-width, over the runs paired with a dense
    run. Empty when the rows lack the cost columns (satbench before 0.5)."""
    rows = labelled_rows(results)
    if BASELINE not in results.methods or any(
            name not in rows.columns or rows[name].null_count() == rows.height
            for name, _ in COSTS):
        return pl.DataFrame()
    dense = rows.filter(pl.col("method") == BASELINE).select(
        "context_key", pl.col("test_accuracy").alias("dense_accuracy"),
        *[pl.col(name).alias(f"dense_{name}") for name, _ in COSTS])
    pairs = rows.join(dense, on="context_key", how="inner").with_columns(
        (pl.col("test_accuracy") - pl.col("dense_accuracy")).alias("diff"),
        *[(pl.col(name) / pl.col(f"dense_{name}")).log().alias(f"log_{name}")
          for name, _ in COSTS])
    out = []
    for (setting, label), frame in pairs.group_by("setting", "label", maintain_order=True):
        summary = stats.summarize(frame["diff"])
        out.append({"setting": setting, "label": label, "n": summary.n,
                    "diff": summary.mean, "half_width": summary.half_width,
                    **{name: float(np.exp(frame[f"log_{name}"].mean())) for name, _ in COSTS}})
    return pl.DataFrame(out).sort("setting", "label")


def short_labels(labels: list[str]) -> dict[str, str]:
    """Each method label ("fpe alpha=2 split=clause ...") with only the params whose value
    differs between that method's labels, for a legend that fits (the method alone when none
    differ)."""
    parsed = {label: (label.split(" ")[0], label.split(" ")[1:]) for label in labels}
    out = {}
    for label, (method, params) in parsed.items():
        others = [p for m, p in parsed.values() if m == method]
        varying = [param for i, param in enumerate(params)
                   if len({tuple(p)[i] if i < len(p) else None for p in others}) > 1]
        out[label] = " ".join([method, *varying])
    return out


def pareto(results: Results, path) -> str | None:
    points = pareto_points(results)
    if points.is_empty():
        return None
    settings = by_setting(points["setting"].unique())
    labels = sorted(points["label"].unique(), key=lambda t: (t.split(" ")[0] != BASELINE, t))
    figure = _figure(11.5, 0.9 + 3.6 * len(settings) + 0.22 * len(labels))
    axes = figure.subplots(len(settings), len(COSTS), squeeze=False)
    handles = {}
    for row, setting in enumerate(settings):
        here = points.filter(pl.col("setting") == setting)
        for ax, (cost, name) in zip(axes[row], COSTS, strict=True):
            for point in here.iter_rows(named=True):
                k = labels.index(point["label"])
                spread = point["half_width"] if np.isfinite(point["half_width"]) else 0.0
                handles[point["label"]] = ax.errorbar(
                    point[cost], 100 * point["diff"], yerr=100 * spread, fmt=MARKERS[k % 8],
                    color=COLOURS(k % 20), capsize=3, markersize=6)
            ax.set_xscale("log", base=2)
            ax.axhline(0, color="grey", linewidth=0.8)
            ax.axvline(1, color="grey", linewidth=0.8, linestyle=":")
            ax.set_xlabel(f"{name}, relative to dense's (log scale)")
            ax.set_ylabel("test accuracy − dense's (points)")
            ax.set_title(f"accuracy against {name}" + (f"\n{setting}" if setting else ""),
                         fontsize=10)
    names = short_labels(list(handles))
    figure.legend(list(handles.values()), [names[label] for label in handles],
                  loc="outside lower center", fontsize=8, ncols=3)
    _save(figure, path)
    return ("Each method (with its params) at its cost relative to the dense model of the same "
            "training context (x, log scale; 1 = dense's budget, dotted) and its test accuracy "
            "minus dense's (y, points; mean and 95% t interval over every paired run, pooled "
            "over the cells). Left: non-zero learned weights; right: multiply-adds per "
            "example in the forward pass. Up and to the left is better. The legend names only "
            "the params that differ between a method's runs; the tables give them all.")

"""BIMT's picture of a trained network (Liu, Gan, Tegmark 2023, arXiv 2305.08746): each unit in
its BIMT slot, inputs at the bottom, hidden units above, outputs on top, and one line per non-zero
weight, its width |w| over the largest |w| of its layer, blue for positive and red for negative
(the official code's colours). Inputs are labelled with the clauses that read them, so modules
that gather a clause's inputs show as such.

The graph is a result row's `connection_graph` (satbench.methods.bimt.connection_graph), read
back from JSON: this module needs no torch.
"""

import json

import numpy as np
import polars as pl
from matplotlib.collections import LineCollection

from satbench.reports.figures import _figure, _save

MAX_LINE_WIDTH = 2.0  # points, for the largest |w| of a layer


def _slots(n: int) -> np.ndarray:
    """x of a layer's n slots, as satbench.models.bimt.slot_coordinates places them."""
    return (np.arange(n) + 0.5) / n


def _input_label(clauses: list[int]) -> str:
    return ",".join(str(c) for c in clauses) if clauses else "-"


def _weight_lines(ax, weight: np.ndarray, x_low: np.ndarray, x_high: np.ndarray,
                  y_low: float, y_high: float) -> None:
    """One line per non-zero weight[high, low], from (x_low, y_low) to (x_high, y_high)."""
    top = float(np.abs(weight).max()) if weight.size else 0.0
    high, low = np.nonzero(weight)
    if not top or not len(high):
        return
    values = weight[high, low]
    segments = np.stack([np.stack([x_low[low], np.full(len(low), y_low)], axis=1),
                         np.stack([x_high[high], np.full(len(high), y_high)], axis=1)], axis=1)
    ax.add_collection(LineCollection(
        segments, linewidths=MAX_LINE_WIDTH * np.abs(values) / top,
        colors=np.where(values > 0, "blue", "red"), zorder=1))


def _draw_graph(ax, graph: dict, title: str) -> tuple[int, int, int]:
    """One network on `ax`; returns its (inputs, hidden units, outputs)."""
    w1, w2 = np.asarray(graph["w1"], dtype=float), np.asarray(graph["w2"], dtype=float)
    (n_hidden, n_inputs), n_outputs = w1.shape, w2.shape[0]
    x_in = _slots(n_inputs)[np.asarray(graph["input_positions"], dtype=int)]
    x_hidden = _slots(n_hidden)
    x_out = _slots(n_outputs)[np.asarray(graph["output_positions"], dtype=int)]
    _weight_lines(ax, w1, x_in, x_hidden, 0.0, 1.0)
    _weight_lines(ax, w2, x_hidden, x_out, 1.0, 2.0)
    for y, xs in ((0.0, x_in), (1.0, x_hidden), (2.0, x_out)):
        ax.scatter(xs, np.full(len(xs), y), s=12, color="black", zorder=2)
    for x, clauses in zip(x_in, graph["clauses_of_input"], strict=True):
        ax.text(x, -0.08, _input_label(clauses), ha="center", va="top", rotation=90,
                fontsize=_font(n_inputs))
    for o, x in enumerate(x_out):
        ax.text(x, 2.08, str(o), ha="center", va="bottom", fontsize=_font(n_outputs),
                rotation=90 if n_outputs > 16 else 0)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.45, 2.3)
    ax.set_yticks([0, 1, 2], ["inputs\n(clauses)", "hidden", "outputs"])
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(title, fontsize=10)
    return n_inputs, n_hidden, n_outputs


def _font(units: int) -> float:
    return 8 if units <= 32 else max(3.0, 8 - units / 24)


def connection_graph_figure(graphs: list[tuple[dict, str]], path) -> str:
    """Draw each (graph, title) in a panel of its own, one above the other, to `path`."""
    widest = max(len(graph["clauses_of_input"]) for graph, _ in graphs)
    figure = _figure(max(6.0, min(16.0, 0.09 * widest)), 4.6 * len(graphs))
    axes = figure.subplots(len(graphs), 1, squeeze=False)[:, 0]
    for ax, (graph, title) in zip(axes, graphs, strict=True):
        n_inputs, n_hidden, n_outputs = _draw_graph(ax, graph, title)
    _save(figure, path)
    return (f"The trained network in BIMT's layout: {n_inputs} inputs (labelled with the "
            f"clauses that read them, '-' for none), {n_hidden} hidden units, {n_outputs} "
            f"output(s); line width |w| over its layer's largest, blue positive, red negative.")


def bimt_graph_runs(results) -> list[dict]:
    """The bimt rows the report draws: of one training context, the one that stored graphs
    (training seed 0) at the highest pressure (clauses / neurons), then the most clauses, then
    the first setting; its bimt runs by falling bimt_lambda (with the cost, then without)."""
    rows = results.rows
    if "connection_graph" not in rows.columns:
        return []
    settings = results.runs.select("context_key", "setting").unique("context_key")
    found = rows.filter(pl.col("connection_graph").is_not_null()).join(
        settings, on="context_key", how="left")
    if found.is_empty():
        return []
    found = found.with_columns((pl.col("clauses") / pl.col("neurons")).alias("pressure")).sort(
        "pressure", "clauses", "setting", "bimt_lambda", "run_key",
        descending=[True, True, False, True, False])
    context = found["context_key"][0]
    return found.filter(pl.col("context_key") == context).head(2).to_dicts()


def bimt_graph(results, path) -> str | None:
    """The report's figure: connection_graph_figure of bimt_graph_runs' rows."""
    runs = bimt_graph_runs(results)
    if not runs:
        return None
    first = runs[0]
    where = (f"h={first['neurons']}, m={first['clauses']}, α={first['alpha']}, seed "
             f"{first['seed']}" + (f", {first['setting']}" if first.get("setting") else ""))
    graphs = [(json.loads(run["connection_graph"]),
               f"bimt, λ={run['bimt_lambda']:g}: test accuracy {100 * run['test_accuracy']:.1f}%")
              for run in runs]
    caption = connection_graph_figure(graphs, path)
    return f"bimt at {where}. " + caption + (
        " Top: with BIMT's connection cost; bottom: the same recipe without it (λ = 0)."
        if len(runs) == 2 else "")

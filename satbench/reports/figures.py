"""Report figures, drawn with matplotlib's object API on the Agg canvas (no pyplot, no GUI state).

Each function writes one PNG and returns a caption, or returns None when the data hold nothing to
draw (the report then says why).
"""

import math

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator, NullLocator

from satbench.reports import stats
from satbench.reports.aggregate import Results, arm_difference, col, paired
from satbench.reports.conclusions import choose_fixed, line_label, lines, trend_groups

DPI = 120
MARKERS = "osD^vP*X"
# A heatmap cell with no runs: grey and hatched, since a blank cell would read as white, the
# diverging colormap's "no effect".
NO_DATA = {"facecolor": "0.8", "edgecolor": "0.55", "hatch": "///", "linewidth": 0}


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path) -> None:
    figure.savefig(path, dpi=DPI)


def _log2_axis(ax, values) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(values)
    ax.set_xticklabels([str(v) for v in values])
    ax.xaxis.set_minor_locator(NullLocator())


def heatmap(results: Results, setting: str, path) -> str | None:
    """FPE's mean relative gain over dense on the neurons x clauses grid, per (alpha, split)."""
    runs = paired(results.runs).filter(pl.col("setting") == setting)
    if runs.is_empty():
        return None
    cells = runs.group_by("alpha", "split", "neurons", "clauses").agg(
        pl.col("rel_gain").mean(), pl.len().alias("n"))
    alphas, splits = sorted(runs["alpha"].unique()), sorted(runs["split"].unique())
    neurons, clauses = sorted(runs["neurons"].unique()), sorted(runs["clauses"].unique())
    limit = max(1.0, float(np.nanmax(np.abs(cells["rel_gain"].to_numpy()))) * 100)
    figure = _figure(0.8 + 1.0 * max(3, len(clauses)) * len(splits),
                     0.9 + 0.8 * max(3, len(neurons)) * len(alphas))
    axes = figure.subplots(len(alphas), len(splits), squeeze=False)
    image, missing = None, False
    for i, alpha in enumerate(alphas):
        for j, split in enumerate(splits):
            ax = axes[i][j]
            grid = np.full((len(neurons), len(clauses)), np.nan)
            for row in cells.filter((pl.col("alpha") == alpha) & (pl.col("split") == split)) \
                    .iter_rows(named=True):
                grid[neurons.index(row["neurons"]), clauses.index(row["clauses"])] = \
                    100 * row["rel_gain"]
            image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu", vmin=-limit, vmax=limit,
                              origin="lower", aspect="auto")
            for (r, c), value in np.ndenumerate(grid):
                if math.isnan(value):
                    missing = True
                    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, **NO_DATA))
                    ax.text(c, r, "no data", ha="center", va="center", fontsize=8, color="0.2",
                            bbox={"facecolor": NO_DATA["facecolor"], "linewidth": 0, "pad": 1})
                else:
                    ax.text(c, r, f"{value:+.1f}%", ha="center", va="center", fontsize=9,
                            color="white" if abs(value) > 0.6 * limit else "black")
            ax.set_xticks(range(len(clauses)), [str(m) for m in clauses])
            ax.set_yticks(range(len(neurons)), [str(h) for h in neurons])
            ax.set_xlabel("clauses m")
            ax.set_ylabel("neurons h")
            ax.set_title(f"α={alpha}, {split} split", fontsize=10)
    colorbar = figure.colorbar(image, ax=axes, shrink=0.9)
    colorbar.set_label("FPE vs dense: relative test-accuracy gain (%)")
    title = "FPE test accuracy relative to dense (same run), mean over seeds"
    figure.suptitle(f"{title}\n{setting}" if setting else title, fontsize=11)
    _save(figure, path)
    return (f"Mean over seeds of FPE's relative gain (fpe / dense − 1 test accuracy, paired within "
            f"each run) on the neurons × clauses grid{', ' + setting if setting else ''}. "
            f"Blue: FPE better; red: worse"
            f"{'; hatched grey: no runs in that cell' if missing else ''}.")


def _trend_panel(ax, runs: pl.DataFrame, vary: str, fixed: str, value: str, scale: float,
                 colours: dict) -> int | None:
    at = choose_fixed(runs, vary, fixed)
    if at is None:
        ax.text(0.5, 0.5, f"no {fixed} value has two or more {vary} counts:\ntrend not computable",
                ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return None
    every_x = sorted(runs.filter(pl.col(fixed) == at)[vary].unique())
    members = lines(runs.filter(pl.col(fixed) == at))
    for k, ((setting, alpha, split), frame) in enumerate(members):
        xs, groups = trend_groups(frame, vary, value)
        means = np.array([np.mean(g) for g in groups]) * scale
        bounds = [stats.percentile_ci(stats.resampled_means([g])[:, 0]) for g in groups]
        low = means - np.array([b[0] for b in bounds]) * scale
        high = np.array([b[1] for b in bounds]) * scale - means
        shift = 2 ** ((k - (len(members) - 1) / 2) * 0.04)  # keep error bars apart
        label = line_label(setting, alpha, split)
        ax.errorbar(np.array(xs) * shift, means, yerr=[low, high], label=label,
                    color=colours[label], marker=MARKERS[k % len(MARKERS)], capsize=3)
    ax.axhline(0, color="grey", linewidth=0.8)
    _log2_axis(ax, every_x)
    ax.set_xlabel(f"{vary} (log2 scale)")
    ax.set_title(f"gain vs {vary} at {at} {fixed}", fontsize=10)
    return at


def trends(results: Results, path) -> str | None:
    """The paper's two lines, absolute (points) and relative (%), with 95% bootstrap CIs."""
    runs = paired(results.runs)
    if runs.is_empty():
        return None
    if choose_fixed(runs, "neurons", "clauses") is None and \
            choose_fixed(runs, "clauses", "neurons") is None:
        return None
    labels = [line_label(*key) for key, _ in lines(runs)]
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
               "tab:pink", "tab:olive", "tab:cyan", "tab:grey"]
    colours = {label: palette[i % len(palette)] for i, label in enumerate(labels)}
    figure = _figure(11, 8.5)
    axes = figure.subplots(2, 2, squeeze=False)
    fixed_at = {}
    for row, (value, scale, unit) in enumerate((("gain", 100, "FPE − dense test accuracy "
                                                                  "(points)"),
                                                ("rel_gain", 100, "FPE / dense − 1 (%)"))):
        for column, (vary, fixed) in enumerate((("neurons", "clauses"), ("clauses", "neurons"))):
            ax = axes[row][column]
            fixed_at[vary] = _trend_panel(ax, runs, vary, fixed, value, scale, colours)
            ax.set_ylabel(unit)
    handles, names = [], []
    for ax in axes.flat:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    if handles:
        fit = max(1, 120 // (max(len(n) for n in names) + 8))  # columns that fit the width
        figure.legend(handles, names, loc="outside lower center", ncols=min(4, len(names), fit))
    figure.suptitle("FPE gain over dense along the paper's two lines through the grid "
                    "(mean over seeds, 95% bootstrap CI)", fontsize=11)
    _save(figure, path)
    return ("FPE's gain over dense (top: absolute, in points; bottom: relative, in %) against "
            f"neurons at {fixed_at['neurons']} clauses (left) and against clauses at "
            f"{fixed_at['clauses']} neurons (right); one line per (α, split); error bars are 95% "
            "percentile bootstrap intervals of the mean over seeds (10,000 resamples, "
            "PCG64(0)). Lines are nudged sideways to keep bars apart.")


INTERFERENCE = (  # (metric, axis label, title)
    ("mean_abs_cos", "Δ mean |cos|, all neuron pairs", "mean |cos| (all pairs)"),
    ("mean_abs_cos_shared_inputs", "Δ mean |cos|, input-sharing pairs",
     "mean |cos| (input-sharing pairs)"),
    ("capacity_total", "Δ total feature capacity", "total feature capacity"))


def interference(results: Results, path) -> str | None:
    """Per run: the change (fpe − dense) in interference measures against the accuracy gain."""
    runs = paired(results.runs)
    panels = [(m, name, title, arm_difference(runs, "fpe", "dense", m))
              for m, name, title in INTERFERENCE]
    panels = [p for p in panels if not p[3].is_empty()]
    if not panels:
        return None
    figure = _figure(4.7 * len(panels), 5.2)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    labels = [line_label(*key) for key, _ in lines(runs)]
    handles, per_line = {}, []
    for ax, (_, name, title, frame) in zip(axes, panels, strict=True):
        r2s = []
        for (setting, alpha, split), part in lines(frame):
            label = line_label(setting, alpha, split)
            k = labels.index(label)
            handles[label] = ax.scatter(part["diff"], 100 * part["gain"], s=22, alpha=0.8,
                                        color=f"C{k % 10}", marker=MARKERS[k % len(MARKERS)])
            own = stats.least_squares(part["diff"], part["gain"])
            if own is not None and len(labels) > 1:
                xs = np.linspace(part["diff"].min(), part["diff"].max(), 50)
                ax.plot(xs, 100 * (own.slope * xs + own.intercept), color=f"C{k % 10}",
                        linestyle="--", linewidth=1)
                r2s.append(f"{label} {own.r2:.2f}")
        fit = stats.least_squares(frame["diff"], frame["gain"])
        if fit is not None:
            xs = np.linspace(frame["diff"].min(), frame["diff"].max(), 50)
            ax.plot(xs, 100 * (fit.slope * xs + fit.intercept), color="black", linewidth=1.4)
            ax.set_title(f"gain vs change in {title}\nleast squares over all runs: R² = "
                         f"{fit.r2:.2f} (n = {fit.n})", fontsize=10)
        else:
            ax.set_title(f"gain vs change in {title}\n(too few runs for a fit)", fontsize=10)
        if r2s:
            per_line.append(f"{title}: {'; '.join(r2s)}")
        ax.axhline(0, color="grey", linewidth=0.8)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_xlabel(f"{name} (fpe − dense)")
        ax.set_ylabel("FPE − dense test accuracy (points)")
    keys = [Line2D([], [], color="black", linewidth=1.4)]
    names = ["least squares, all runs"]
    if len(labels) > 1:
        keys.append(Line2D([], [], color="grey", linestyle="--", linewidth=1))
        names.append("least squares, one line (α, split)")
    figure.legend(list(handles.values()) + keys, list(handles) + names,
                  loc="outside lower center", fontsize=9,
                  ncols=min(3, len(handles) + len(keys),
                            max(1, 150 // (max(len(n) for n in [*handles, *names]) + 8))))
    figure.suptitle("Does FPE's change in interference predict its accuracy gain? "
                    "(one point per run)", fontsize=11)
    _save(figure, path)
    return ("Each point is one run: the change from its dense arm to its FPE arm in mean |cos| "
            "between neuron weight vectors (over all pairs; over pairs that share inputs) and in "
            "total feature capacity, against the test-accuracy gain; black: least-squares line "
            "over all runs (R² in the titles), dashed: one fit per (α, split) line. "
            "All-pairs |cos| falls partly by construction (siblings have disjoint inputs)."
            + (f" R² per line: {'. '.join(per_line)}." if per_line else ""))


def gram_run(results: Results) -> dict | None:
    """The run shown in the Gram panels: highest clauses/neurons, then clause split, smallest
    alpha, seed 0 (each where the store has it)."""
    runs = paired(results.runs)
    if runs.is_empty() or "gram" not in results.rows.columns:
        return None
    top = runs.filter(pl.col("pressure") == runs["pressure"].max())
    top = top.filter(pl.col("clauses") == top["clauses"].max())
    for column, preferred in (("split", "clause"), ("alpha", None), ("seed", 0)):
        values = set(top[column].unique())
        choice = preferred if preferred in values else min(values)
        top = top.filter(pl.col(column) == choice)
    return top.sort("setting").row(0, named=True)


def gram(results: Results, path) -> str | None:
    """|W1^T W1| of the dense, FPE (and wide_dense) arms of one high-pressure run."""
    run = gram_run(results)
    if run is None:
        return None
    arms = []
    for method in ("dense", "fpe", "wide_dense"):
        key = run.get(col(method, "run_key"))
        found = results.rows.filter(pl.col("run_key") == key) if key else results.rows.clear()
        if found.height and found["gram"][0] is not None:
            values = np.asarray(found["gram"][0], dtype=float)
            side = math.isqrt(len(values))
            if side * side == len(values) and side:
                arms.append((method, np.abs(values.reshape(side, side)),
                             found["test_accuracy"][0], found["width_hidden"][0]
                             if "width_hidden" in found.columns else None))
    if len(arms) < 2:
        return None
    top = max(float(a[1].max()) for a in arms)
    figure = _figure(0.9 + 3.9 * len(arms), 4.4)
    axes = figure.subplots(1, len(arms), squeeze=False)[0]
    image = None
    for ax, (method, matrix, accuracy, width) in zip(axes, arms, strict=True):
        image = ax.imshow(matrix, cmap="viridis", norm=PowerNorm(0.5, vmin=0, vmax=top),
                          interpolation="nearest")
        width_text = f", {width} neurons" if width is not None else ""
        ax.set_title(f"{method}{width_text}\ntest accuracy {100 * accuracy:.1f}%", fontsize=10)
        ax.set_xlabel("input feature j")
        ax.set_ylabel("input feature i")
    colorbar = figure.colorbar(image, ax=list(axes), shrink=0.9)
    colorbar.set_label("|W1ᵀW1|ᵢⱼ = |Wᵢ · Wⱼ| (square-root colour scale)")
    where = (f"h={run['neurons']}, m={run['clauses']} (m/h = {run['pressure']:g}), "
             f"α={run['alpha']}, {run['split']} split, seed {run['seed']}"
             f"{', ' + run['setting'] if run['setting'] else ''}")
    figure.suptitle(f"Input-feature Gram matrices |W1ᵀW1|, shared colour scale: {where}",
                    fontsize=11)
    _save(figure, path)
    return (f"|W1ᵀW1| (input features' embeddings: diagonal = squared norms, off-diagonal = "
            f"interference) for the run at the highest pressure, {where}; one square-root colour "
            f"scale for all panels, so weak off-diagonal terms stay visible.")

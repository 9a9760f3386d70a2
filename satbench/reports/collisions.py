"""The paper's collision law, measured: how often two clauses land whole in one child, against
alpha^-(2k-1) and its exact finite-n value, and how the gain varies with the measured rate.

The law assumes two clauses on 2k distinct variables split at random (satbench.collision_law),
so the expected rates are given for read-once tasks (support `disjoint`) under the pm1 encoding
(one input per variable) only; elsewhere the table says the premise does not hold. The clause
split is not random: it keeps clauses whole and spreads them, so on read-once tasks its rate is
the fewest collisions a balanced partition reaches (satbench.testing.reachable_spread), not the
law's.
"""

import math

import numpy as np
import polars as pl

from satbench.collision_law import (
    asymptotic_collision_rate,
    exact_collision_rate,
    exact_whole_rate,
)
from satbench.reports import stats
from satbench.reports.aggregate import Results, col, paired
from satbench.reports.conclusions import ci_points, line_label, lines, points
from satbench.reports.figures import MARKERS, _figure, _save
from satbench.reports.tables import markdown_table

MEASURED = col("fpe", "clause_collisions")
WHOLE = col("fpe", "clause_integrity")


def collision_runs(results: Results) -> pl.DataFrame:
    runs = paired(results.runs)
    if MEASURED not in runs.columns:
        return runs.clear()
    return runs.filter(pl.col(MEASURED).is_not_null() & pl.col(MEASURED).is_not_nan())


def expected(frame: pl.DataFrame, alpha: int) -> tuple[float, float, float] | None:
    """(exact collision rate, alpha^-(2k-1), exact whole rate) where the law's premise holds."""
    first = frame.row(0, named=True)
    if first.get("support") != "disjoint" or first.get("encoding", "pm1") != "pm1":
        return None
    n, k = int(first["vars"]), int(first["width"])
    return (exact_collision_rate(n, k, alpha), asymptotic_collision_rate(k, alpha),
            exact_whole_rate(n, k, alpha))


def pooled_rate(frame: pl.DataFrame) -> tuple[float, float, float]:
    """The collision rate over all (parent, clause pair) trials of the runs, with a 95% Wilson
    interval. Collisions are rare at large alpha, so most runs count none; pooling the trials
    (h x C(m, 2) per run) estimates the rate better than a mean of per-run rates. Pairs within
    one parent are not independent, so the interval is approximate."""
    trials = (frame["neurons"] * frame["clauses"] * (frame["clauses"] - 1) / 2).to_numpy()
    hits = np.rint(frame[MEASURED].to_numpy() * trials)
    n, p = trials.sum(), hits.sum() / trials.sum()
    z = 1.959963984540054
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, centre - half, centre + half


def _rate(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.4f}"


def collision_section(results: Results) -> list[str]:
    runs = collision_runs(results)
    if runs.is_empty():
        return []
    rows = []
    for (setting, alpha, split), frame in lines(runs):
        rate, low, high = pooled_rate(frame)
        law = expected(frame, alpha)
        rows.append([line_label(setting, alpha, split), frame.height,
                     f"{rate:.4f} [{low:.4f}, {high:.4f}]",
                     *(["premise does not hold", "–"] if law is None
                       else [_rate(law[0]), _rate(law[1])]),
                     f"{frame[WHOLE].mean():.3f}", "–" if law is None else f"{law[2]:.3f}"])
    fits = []
    for (setting, alpha), frame in lines(runs, by=("setting", "alpha")):
        fit = stats.least_squares(frame[MEASURED], frame["gain"])
        if fit is None:
            continue
        estimate = fit.slope_estimate
        fits.append(f"- α={alpha}{', ' + setting if setting else ''}: gain = "
                    f"{points(fit.slope)} points per unit collision rate x + "
                    f"{points(fit.intercept)}; slope 95% CI "
                    f"{ci_points(estimate.low, estimate.high)} (bootstrap), "
                    f"{ci_points(estimate.t_low, estimate.t_high)} (t); R^2 = {fit.r2:.2f} "
                    f"over {fit.n} runs")
    return ["## The collision law, measured", "",
            "Collision rate: the fraction of (parent, clause pair) trials in which both clauses' "
            "inputs all land in one child, pooled over the runs' trials, with a 95% Wilson "
            "interval (approximate: pairs of one parent are not independent). The paper's "
            "law is α^-(2k-1); the exact value for a random balanced split of n variables is "
            "Σ_c C(s_c, 2k) / C(n, 2k) over the group sizes s_c (satbench.collision_law), "
            "which approaches the law only as n grows. Both assume clauses on 2k distinct "
            "variables: a read-once task. Whole: the fraction of clauses kept in one child, "
            "against its exact random-split value.", "",
            markdown_table(["line", "runs", "measured collisions", "exact (random split)",
                            "α^-(2k-1)", "whole, measured", "whole, exact"], rows), "",
            "Least squares of FPE's gain over dense on the measured collision rate, per α "
            "(splits pooled; the slope's CI resamples runs):", "", *(fits or ["- no fit: "
                                                                           "fewer than three "
                                                                           "runs or no spread"]),
            ""]


def collision_figure(results: Results, path) -> str | None:
    """Measured collision rates against alpha, with the exact and asymptotic random-split law."""
    runs = collision_runs(results)
    if runs.is_empty() or runs["alpha"].n_unique() < 1:
        return None
    figure = _figure(6.4, 4.4)
    ax = figure.subplots()
    alphas = sorted(runs["alpha"].unique())
    for k, ((setting, split), frame) in enumerate(lines(runs, by=("setting", "split"))):
        present = [a for a in alphas if frame.filter(pl.col("alpha") == a).height]
        rates = np.array([pooled_rate(frame.filter(pl.col("alpha") == a)) for a in present])
        # max(0, ...): at a rate of exactly 0 or 1 the interval's end meets it up to round-off
        ax.errorbar(present, rates[:, 0], yerr=np.maximum(0.0, [rates[:, 0] - rates[:, 1],
                                                                rates[:, 2] - rates[:, 0]]),
                    marker=MARKERS[k % len(MARKERS)], linestyle="none", capsize=3,
                    label=f"measured, {split} split" + (f", {setting}" if setting else ""))
    first = runs.row(0, named=True)
    if first.get("support") == "disjoint" and first.get("encoding", "pm1") == "pm1":
        n, width = int(first["vars"]), int(first["width"])
        grid = np.arange(2, max(alphas) + 1)
        ax.plot(grid, [exact_collision_rate(n, width, a) for a in grid], color="black",
                label=f"exact, random split (n={n}, k={width})")
        ax.plot(grid, [asymptotic_collision_rate(width, a) for a in grid], color="grey",
                linestyle="--", label="α^-(2k-1)")
    ax.set_yscale("log")
    ax.set_xticks(alphas)
    ax.set_xlabel("α (children per neuron)")
    ax.set_ylabel("clause pairs colliding in one child")
    ax.legend(fontsize=8)
    _save(figure, path)
    return ("Measured rate at which two clauses land whole in one child (FPE runs, pooled over "
            "parents and clause pairs, 95% Wilson intervals), against the exact random-split "
            "value and the paper's α^-(2k-1); log scale.")

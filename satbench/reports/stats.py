"""Statistics for reports: paired t-tests, t intervals, seeded bootstraps, least squares, and the
tests that decide claims (cells fixed or random, trends with a lack-of-fit term, non-inferiority,
equivalence, Holm and Benjamini-Hochberg adjustment; see docs/statistics.md).

The t distribution, the t-tests and the regression come from scipy.stats. No bootstrap decides a
claim: the bootstraps that remain (least squares' slope interval, the figures' error bars) are
satbench's own, stratified (seeds resampled within each cell, which scipy.stats.bootstrap cannot
do), each drawing from its own numpy Generator(PCG64(seed)), so a report is the same number for
number however often, and in whatever order, it is built.
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import scipy.stats

N_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class Summary:
    """Mean of a sample with its standard error and a 95% t interval; p tests mean == 0."""

    n: int
    mean: float
    se: float
    low: float
    high: float
    p: float
    positive: int  # how many values are > 0

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


def summarize(values) -> Summary:
    """Mean, standard error, 95% t-based CI and the one-sample (= paired) t-test p-value.

    For paired differences this is exactly scipy.stats.ttest_rel. A sample with no spread gets
    p = 0 when its mean is not 0 (every pair moved the same way by the same amount) and 1 if it is.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    positive = int((x > 0).sum())
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan, math.nan, positive)
    se = float(x.std(ddof=1) / math.sqrt(n))
    # No spread (up to rounding): scipy's t would be mean / 0, NaN or inf with a warning.
    if se <= 1e-12 * max(1.0, abs(mean)):
        return Summary(n, mean, 0.0, mean, mean, 1.0 if mean == 0 else 0.0, positive)
    test = scipy.stats.ttest_1samp(x, 0.0)
    interval = test.confidence_interval(0.95)
    return Summary(n, mean, se, float(interval.low), float(interval.high), float(test.pvalue),
                   positive)


def resampled_means(groups, n_resamples: int = N_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(n_resamples, len(groups)): each group's mean after resampling it with replacement.

    Groups are resampled independently (a stratified bootstrap): a group is one cell's seeds.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    columns = []
    for group in groups:
        values = np.asarray(group, dtype=float)
        index = rng.integers(0, len(values), size=(n_resamples, len(values)))
        columns.append(values[index].mean(axis=1))
    return np.stack(columns, axis=1)


def percentile_ci(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    samples = np.asarray(samples, dtype=float)
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a 95% bootstrap percentile interval and a 95% t interval."""

    value: float
    low: float  # bootstrap
    high: float
    n: int  # observations behind it
    t_low: float = math.nan
    t_high: float = math.nan


@dataclass(frozen=True)
class Fit:
    """y = slope * x + intercept by least squares, with R^2 and a bootstrap CI on the slope."""

    slope: float
    intercept: float
    r2: float
    slope_low: float  # bootstrap over points
    slope_high: float
    n: int
    slope_t_low: float = math.nan  # classical: se = sqrt(SSR / (n - 2) / Sxx), n - 2 df
    slope_t_high: float = math.nan

    @property
    def slope_estimate(self) -> Estimate:
        return Estimate(self.slope, self.slope_low, self.slope_high, self.n, self.slope_t_low,
                        self.slope_t_high)


def least_squares(x, y, seed: int = BOOTSTRAP_SEED) -> Fit | None:
    """Fit y on x; the slope's CI resamples (x, y) pairs. None with < 3 points or constant x."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0:
        return None
    fit = scipy.stats.linregress(x, y)
    # A flat y is fitted exactly, but has no R^2 (0 / 0); scipy's r (and so its standard error)
    # is then NaN or 0 depending on its version.
    r2, se = (math.nan, 0.0) if np.ptp(y) == 0 else (float(fit.rvalue) ** 2, float(fit.stderr))
    rng = np.random.Generator(np.random.PCG64(seed))
    index = rng.integers(0, len(x), size=(N_RESAMPLES, len(x)))
    xs, ys = x[index], y[index]
    dx = xs - xs.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = (dx * (ys - ys.mean(axis=1, keepdims=True))).sum(axis=1) / (dx ** 2).sum(axis=1)
    slope = float(fit.slope)
    half = float(scipy.stats.t.ppf(0.975, len(x) - 2)) * se
    return Fit(slope, float(fit.intercept), r2, *percentile_ci(samples), len(x), slope - half,
               slope + half)


# --- Tests that decide claims (docs/statistics.md) ---------------------------------------------

ALPHA = 0.05  # every claim is decided at this level, on its family-adjusted p
MARGIN = 0.005  # 0.5 points of accuracy: the equivalence and non-inferiority margin


@dataclass(frozen=True)
class Test:
    """One claim's effect under a named model: estimate, 95% t interval and p of H0: effect = null.

    null is 0 for a superiority claim and -margin (in the claim's direction) for a
    non-inferiority claim; equivalence_p is the TOST p of |effect| >= MARGIN, for saying what an
    undecided claim can exclude.
    """

    model: str  # e.g. "cells random: t over 7 cell means"
    value: float
    low: float
    high: float
    p: float
    df: float
    null: float = 0.0
    equivalence_p: float = math.nan


def t_test(model: str, value: float, se: float, df: float, null: float = 0.0) -> Test:
    """A t test of value against null with standard error se on df degrees of freedom."""
    if math.isnan(se) or math.isnan(df) or df <= 0:
        return Test(model, value, math.nan, math.nan, math.nan, df, null)
    if se <= 1e-12 * max(1.0, abs(value)):  # no spread: as summarize, exact
        p = 1.0 if value == null else 0.0
        return Test(model, value, value, value, p, df, null, 0.0 if abs(value) < MARGIN else 1.0)
    half = float(scipy.stats.t.ppf(0.975, df)) * se
    p = float(2 * scipy.stats.t.sf(abs(value - null) / se, df))
    return Test(model, value, value - half, value + half, p, df, null,
                tost_p(value, se, df, MARGIN))


def tost_p(value: float, se: float, df: float, margin: float) -> float:
    """Two one-sided tests of H0: |effect| >= margin; a small p shows equivalence within it."""
    below = scipy.stats.t.sf((value + margin) / se, df)  # H0: effect <= -margin
    above = scipy.stats.t.cdf((value - margin) / se, df)  # H0: effect >= +margin
    return float(max(below, above))


def cells_random(groups, null: float = 0.0) -> Test:
    """Cells as random effects: a one-sample t over the cell means (k - 1 df).

    Each cell counts once whatever its seeds, so the interval carries the between-cell variance;
    with balanced cells this is the exact test of the random-effects (mixed) model's mean.
    """
    means = np.array([np.mean(g) for g in groups if len(g)], dtype=float)
    k = len(means)
    se = float(means.std(ddof=1) / math.sqrt(k)) if k > 1 else math.nan
    mean = float(means.mean()) if k else math.nan
    return t_test(f"cells random: t over {k} cell means", mean, se, k - 1, null)


def cells_fixed(groups, null: float = 0.0) -> Test:
    """Cells fixed (stratified): the mean of every observation, with the pooled within-cell
    variance on N - k df. It answers "in these cells", not "in cells like these"."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    n = sum(len(g) for g in groups)
    df = n - len(groups)
    mean = float(np.concatenate(groups).mean()) if n else math.nan
    within = sum(float(((g - g.mean()) ** 2).sum()) for g in groups)
    se = math.sqrt(within / df / n) if df > 0 else math.nan
    return t_test(f"cells fixed: stratified t over {n} pairs in {len(groups)} cells", mean, se,
                  df, null)


@dataclass(frozen=True)
class Heterogeneity:
    """How much cells differ: one-way ANOVA F and p, and the between-cell SD (method of moments)."""

    f: float
    p: float
    between_sd: float


def heterogeneity(groups) -> Heterogeneity:
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if len(groups) < 2 or all(len(g) < 2 for g in groups):
        return Heterogeneity(math.nan, math.nan, math.nan)
    means = np.array([g.mean() for g in groups])
    noise = np.mean([g.var(ddof=1) / len(g) for g in groups if len(g) > 1])
    between = math.sqrt(max(0.0, float(means.var(ddof=1)) - float(noise)))
    with np.errstate(divide="ignore", invalid="ignore"):
        test = scipy.stats.f_oneway(*groups)
    return Heterogeneity(float(test.statistic), float(test.pvalue), between)


def pooled_test(groups, null: float = 0.0) -> Test:
    """The verdict-deciding test of a pooled claim: cells random when there are 2 or more cells,
    else (one cell) the t over its seeds, which is all the store can say."""
    groups = [g for g in groups if len(g)]
    if len(groups) == 1:
        test = cells_fixed(groups, null)
        return dataclasses.replace(test, model=f"one cell: t over {len(groups[0])} seeds")
    return cells_random(groups, null)


def trend_test(x, groups) -> Test | None:
    """Slope of the per-x means on x, one cell per x. None with < 2 distinct x.

    With 3 or more cells, a regression of the cell means on x (k - 2 df): its residual variance
    is the between-cell scatter about the line (the lack of fit), so cells are random. With 2
    cells there is no lack-of-fit term, and the slope is stated for these two cells (Welch t on
    the within-cell variances).
    """
    x = np.asarray(x, dtype=float)
    if len(np.unique(x)) < 2:
        return None
    groups = [np.asarray(g, dtype=float) for g in groups]
    means = np.array([g.mean() for g in groups])
    if len(x) >= 3:
        fit = scipy.stats.linregress(x, means)
        se = 0.0 if np.ptp(means) == 0 else float(fit.stderr)
        return t_test(f"cells random: slope of {len(x)} cell means, {len(x) - 2} df",
                      float(fit.slope), se, len(x) - 2)
    slope, se, df = _welch_slope(x, groups)
    return t_test("cells fixed: these 2 cells, Welch t", slope, se, df)


def _welch_slope(x: np.ndarray, groups) -> tuple[float, float, float]:
    """Slope of the group means on x, its standard error from the within-group variances and its
    Welch-Satterthwaite df (NaN when some group has one observation)."""
    dx = x - x.mean()
    weights = dx / (dx @ dx)
    slope = float(weights @ np.array([g.mean() for g in groups]))
    sizes = np.array([len(g) for g in groups])
    if sizes.min() < 2:
        return slope, math.nan, math.nan
    terms = weights ** 2 * np.array([g.var(ddof=1) for g in groups]) / sizes
    variance = float(terms.sum())
    if variance <= 1e-24:
        return slope, 0.0, float(sizes.sum() - len(sizes))
    return slope, math.sqrt(variance), variance ** 2 / float((terms ** 2 / (sizes - 1)).sum())


def fit_test(fit: Fit, model: str) -> Test:
    """A least-squares slope as a Test (classical slope t on n - 2 df)."""
    df = fit.n - 2
    half = (fit.slope_t_high - fit.slope_t_low) / 2
    se = half / float(scipy.stats.t.ppf(0.975, df))
    return t_test(model, fit.slope, se, df)


def non_inferiority(test: Test, direction: int = 1, margin: float = MARGIN) -> Test:
    """The same estimate tested against -margin on the claim's side (H0: worse by the margin)."""
    se = (test.high - test.low) / 2 / float(scipy.stats.t.ppf(0.975, test.df)) \
        if test.df > 0 and not math.isnan(test.low) else math.nan
    return t_test(f"{test.model}; non-inferiority, margin {100 * margin:.1f} points", test.value,
                  se, test.df, -direction * margin)


def simultaneous_interval(test: Test, family_size: int) -> tuple[float, float]:
    """The test's interval at 1 - ALPHA / family_size (Bonferroni): what the family's adjusted
    verdicts cannot exclude. An interval at 95% alone may exclude the null while the claim,
    adjusted with its family, is undecided."""
    if math.isnan(test.low) or test.df <= 0:
        return math.nan, math.nan
    se = (test.high - test.low) / 2 / float(scipy.stats.t.ppf(0.975, test.df))
    half = float(scipy.stats.t.ppf(1 - ALPHA / (2 * max(1, family_size)), test.df)) * se
    return test.value - half, test.value + half


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate); NaN stays NaN, uncounted."""
    p, order, out = _ranked(pvalues)
    steps = (len(order) - np.arange(len(order))) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(steps))
    return out.tolist()


def benjamini_hochberg(pvalues) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate); NaN stays NaN, uncounted."""
    p, order, out = _ranked(pvalues)
    steps = len(order) * p[order] / np.arange(1, len(order) + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(steps[::-1])[::-1])
    return out.tolist()


def _ranked(pvalues):
    """The p-values, the indices of the non-NaN ones in ascending order (stable), and an all-NaN
    output to fill."""
    p = np.asarray(pvalues, dtype=float)
    index = np.flatnonzero(~np.isnan(p))
    return p, index[np.argsort(p[index], kind="stable")], np.full(len(p), math.nan)


def decide(test: Test | None, p_adjusted: float, direction: int = 1) -> str:
    """yes: the adjusted p rejects the null with the effect on the claimed side of it; no: it
    rejects it on the other side; inconclusive otherwise."""
    if test is None or math.isnan(p_adjusted) or p_adjusted >= ALPHA:
        return "inconclusive"
    return "yes" if (test.value - test.null) * direction > 0 else "no"

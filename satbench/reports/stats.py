"""Statistics for reports: paired t-tests, t intervals, seeded bootstraps, least squares.

The t distribution, the t-tests and the regression come from scipy.stats. The bootstraps are
satbench's own, because they are stratified (seeds are resampled within each cell), which
scipy.stats.bootstrap cannot do. Every bootstrap draws from its own numpy Generator(PCG64(seed)),
so a report is the same number for number however often, and in whatever order, it is built.
"""

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


def pooled_mean(groups, seed: int = BOOTSTRAP_SEED) -> Estimate:
    """Mean over every observation of every group; CI by resampling within each group."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if not groups:
        return Estimate(math.nan, math.nan, math.nan, 0)
    sizes = np.array([len(g) for g in groups], dtype=float)
    summary = summarize(np.concatenate(groups))
    samples = resampled_means(groups, seed=seed) @ (sizes / sizes.sum())
    return Estimate(summary.mean, *percentile_ci(samples), int(sizes.sum()), summary.low,
                    summary.high)


def _slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slope of each row of y on x (x shared)."""
    dx = x - x.mean()
    return (y - y.mean(axis=-1, keepdims=True)) @ dx / (dx @ dx)


def trend_slope(x, groups, seed: int = BOOTSTRAP_SEED) -> Estimate | None:
    """Slope of the group means on x. None with < 2 distinct x.

    Bootstrap CI: resample each group (each x's seeds) independently. t CI: the slope is a
    weighted sum of the group means, sum w_x m_x, with variance sum w_x^2 se_x^2 and
    Welch-Satterthwaite degrees of freedom (undefined if some x has a single observation).
    """
    x = np.asarray(x, dtype=float)
    if len(np.unique(x)) < 2:
        return None
    groups = [np.asarray(g, dtype=float) for g in groups]
    means = np.array([g.mean() for g in groups])
    value = float(_slopes(x, means))
    samples = _slopes(x, resampled_means(groups, seed=seed))
    sizes = np.array([len(g) for g in groups])
    t_low = t_high = math.nan
    if sizes.min() >= 2:
        dx = x - x.mean()
        terms = (dx / (dx @ dx)) ** 2 * np.array([g.var(ddof=1) for g in groups]) / sizes
        variance = float(terms.sum())
        if variance <= 1e-24:
            t_low = t_high = value
        else:
            df = variance ** 2 / float((terms ** 2 / (sizes - 1)).sum())
            half = float(scipy.stats.t.ppf(0.975, df)) * math.sqrt(variance)
            t_low, t_high = value - half, value + half
    return Estimate(value, *percentile_ci(samples), int(sizes.sum()), t_low, t_high)


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


def verdict(low: float, high: float, direction: int = 1) -> str:
    """yes: the 95% CI excludes 0 on the claimed side; no: on the other side; else inconclusive."""
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    if (low > 0 and direction > 0) or (high < 0 and direction < 0):
        return "yes"
    if (high < 0 and direction > 0) or (low > 0 and direction < 0):
        return "no"
    return "inconclusive"


def joint_verdict(estimate: Estimate, direction: int = 1) -> str:
    """yes or no only when the bootstrap and the t interval both say so; else inconclusive.

    A percentile bootstrap over 3 to 5 seeds is narrower than it should be, so it never
    decides a claim alone.
    """
    verdicts = {verdict(estimate.low, estimate.high, direction),
                verdict(estimate.t_low, estimate.t_high, direction)}
    return verdicts.pop() if len(verdicts) == 1 else "inconclusive"

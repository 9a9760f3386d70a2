"""Statistics for reports: Student t (no scipy), paired t-tests, seeded bootstraps, least squares.

Every bootstrap draws from its own numpy Generator(PCG64(seed)), so a report is the same number
for number however often, and in whatever order, it is built.

The t distribution is computed here rather than taken from scipy, which satbench does not depend
on: the two-sided p-value of a paired t-test is I_{df/(df+t^2)}(df/2, 1/2), the regularized
incomplete beta function, evaluated by its continued fraction (Numerical Recipes, 6.4).
"""

import math
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with df degrees of freedom."""
    if math.isnan(t) or df <= 0:
        return math.nan
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def t_quantile(q: float, df: float) -> float:
    """The q quantile (0.5 <= q < 1) of Student's t, by bisection on the two-sided tail."""
    tail = 2.0 * (1.0 - q)
    low, high = 0.0, 1.0
    while t_two_sided_p(high, df) > tail:
        high *= 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        low, high = (middle, high) if t_two_sided_p(middle, df) > tail else (low, middle)
    return (low + high) / 2.0


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
    if se <= 1e-12 * max(1.0, abs(mean)):
        return Summary(n, mean, 0.0, mean, mean, 1.0 if mean == 0 else 0.0, positive)
    half = t_quantile(0.975, n - 1) * se
    return Summary(n, mean, se, mean - half, mean + half, t_two_sided_p(mean / se, n - 1),
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
            half = t_quantile(0.975, df) * math.sqrt(variance)
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
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    total = ((y - y.mean()) ** 2).sum()
    r2 = float(1.0 - (residual ** 2).sum() / total) if total > 0 else math.nan
    rng = np.random.Generator(np.random.PCG64(seed))
    index = rng.integers(0, len(x), size=(N_RESAMPLES, len(x)))
    xs, ys = x[index], y[index]
    dx = xs - xs.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        samples = (dx * (ys - ys.mean(axis=1, keepdims=True))).sum(axis=1) / (dx ** 2).sum(axis=1)
    sxx = float(((x - x.mean()) ** 2).sum())
    half = t_quantile(0.975, len(x) - 2) * math.sqrt(float((residual ** 2).sum())
                                                     / (len(x) - 2) / sxx)
    return Fit(float(slope), float(intercept), r2, *percentile_ci(samples), len(x),
               float(slope) - half, float(slope) + half)


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

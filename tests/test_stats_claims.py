"""The tests that decide claims, each against an independent computation (scipy, numpy or a hand
calculation): cells random and fixed, trends with a lack-of-fit term, TOST, non-inferiority,
Holm and Benjamini-Hochberg."""

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from satbench.reports import stats

SAMPLE = st.lists(st.floats(-0.2, 0.2), min_size=2, max_size=6)
CELLS = st.lists(SAMPLE, min_size=2, max_size=8)


def _spread(values) -> bool:
    return np.ptp(values) > 1e-6


@given(CELLS)
def test_cells_random_is_a_one_sample_t_over_the_cell_means(groups):
    means = np.array([np.mean(g) for g in groups])
    assume(_spread(means))
    test = stats.cells_random(groups)
    expected = scipy.stats.ttest_1samp(means, 0.0)
    interval = expected.confidence_interval(0.95)
    assert test.value == pytest.approx(means.mean(), abs=1e-12)
    assert test.p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)
    assert (test.low, test.high) == pytest.approx((interval.low, interval.high), abs=1e-9)
    assert test.df == len(groups) - 1
    assert f"{len(groups)} cell means" in test.model


@given(CELLS)
def test_cells_fixed_is_the_cell_dummy_regression(groups):
    y = np.concatenate(groups)
    cells = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    design = np.eye(len(groups))[cells]
    _, rss, _, _ = np.linalg.lstsq(design, y, rcond=None)
    df = len(y) - len(groups)
    assume(rss.size and rss[0] > 1e-10)
    # The stratified mean weights cell means by their sizes: the overall mean, variance s^2 / N.
    se = math.sqrt(rss[0] / df / len(y))
    test = stats.cells_fixed(groups)
    assert test.value == pytest.approx(y.mean(), abs=1e-12)
    assert test.p == pytest.approx(2 * scipy.stats.t.sf(abs(y.mean()) / se, df), rel=1e-6,
                                   abs=1e-12)
    assert test.df == df


def test_heterogeneity_is_the_one_way_anova():
    groups = [[0.1, 0.2, 0.15], [0.5, 0.6, 0.55], [0.0, 0.05, -0.05]]
    het = stats.heterogeneity(groups)
    expected = scipy.stats.f_oneway(*groups)
    assert (het.f, het.p) == pytest.approx((expected.statistic, expected.pvalue))
    # Between-cell SD: the variance of the cell means less the mean within-cell noise (se^2).
    means = [np.mean(g) for g in groups]
    noise = np.mean([np.var(g, ddof=1) / 3 for g in groups])
    assert het.between_sd == pytest.approx(math.sqrt(np.var(means, ddof=1) - noise))


@given(st.lists(st.floats(-0.2, 0.2), min_size=3, max_size=6))
def test_a_trend_over_three_or_more_cells_regresses_the_cell_means(means):
    assume(_spread(means))
    x = np.arange(len(means), dtype=float)
    groups = [[m - 0.01, m + 0.01] for m in means]  # within-cell noise the slope must ignore
    test = stats.trend_test(x, groups)
    fit = scipy.stats.linregress(x, means)
    assert test.value == pytest.approx(fit.slope, abs=1e-12)
    assert test.p == pytest.approx(fit.pvalue, rel=1e-6, abs=1e-12)
    assert test.df == len(means) - 2 and "cells random" in test.model


def test_a_trend_over_two_cells_is_stated_for_those_cells():
    test = stats.trend_test([0.0, 1.0], [[0.1, 0.2, 0.3], [0.5, 0.6, 0.8]])
    expected = scipy.stats.ttest_ind([0.5, 0.6, 0.8], [0.1, 0.2, 0.3], equal_var=False)
    assert test.value == pytest.approx(0.6333333333 - 0.2)
    assert test.p == pytest.approx(expected.pvalue, rel=1e-9)
    assert "these 2 cells" in test.model
    assert stats.trend_test([1.0, 1.0], [[0.1, 0.2], [0.3, 0.4]]) is None


@given(st.lists(st.floats(-0.02, 0.02), min_size=3, max_size=12))
def test_tost_is_two_one_sided_t_tests(values):
    assume(_spread(values))
    summary = stats.summarize(values)
    test = stats.t_test("model", summary.mean, summary.se, summary.n - 1)
    margin = stats.MARGIN
    lower = scipy.stats.ttest_1samp(values, -margin, alternative="greater").pvalue
    upper = scipy.stats.ttest_1samp(values, margin, alternative="less").pvalue
    assert test.equivalence_p == pytest.approx(max(lower, upper), rel=1e-6, abs=1e-12)


@given(st.lists(st.floats(-0.02, 0.02), min_size=3, max_size=12), st.sampled_from([1, -1]))
def test_non_inferiority_tests_the_margin_on_the_claimed_side(values, direction):
    assume(_spread(values))
    summary = stats.summarize(values)
    base = stats.t_test("model", summary.mean, summary.se, summary.n - 1)
    test = stats.non_inferiority(base, direction)
    null = -direction * stats.MARGIN
    expected = scipy.stats.ttest_1samp(values, null)
    assert test.null == null
    assert test.p == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)
    verdict = stats.decide(test, test.p, direction)
    one_sided = scipy.stats.ttest_1samp(values, null, alternative="greater" if direction > 0
                                        else "less").pvalue
    assert (verdict == "yes") == (one_sided < stats.ALPHA / 2)


def test_holm_matches_a_hand_computation():
    # Sorted: 0.005 * 4 = 0.02, 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> 0.06 (step
    # down keeps the running maximum); NaN is not counted in the family.
    adjusted = stats.holm([0.01, 0.04, math.nan, 0.03, 0.005])
    assert adjusted[:2] == pytest.approx([0.03, 0.06])
    assert math.isnan(adjusted[2])
    assert adjusted[3:] == pytest.approx([0.06, 0.02])
    assert stats.holm([0.9, 0.8]) == [1.0, 1.0]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_benjamini_hochberg_is_scipys(pvalues):
    expected = scipy.stats.false_discovery_control(pvalues)
    assert stats.benjamini_hochberg(pvalues) == pytest.approx(expected, abs=1e-12)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_holm_is_never_below_bh_nor_the_raw_p(pvalues):
    holm, bh = stats.holm(pvalues), stats.benjamini_hochberg(pvalues)
    for p, h, b in zip(pvalues, holm, bh, strict=True):
        assert h >= b - 1e-12 and b >= p - 1e-12


def test_decide_uses_the_adjusted_p_and_the_side():
    test = stats.t_test("m", 0.01, 0.004, 6)
    assert stats.decide(test, 0.01) == "yes"
    assert stats.decide(test, 0.01, -1) == "no"
    assert stats.decide(test, 0.2) == "inconclusive"
    assert stats.decide(None, 0.01) == "inconclusive"


@given(st.lists(st.floats(-0.05, 0.05, allow_nan=False), min_size=3, max_size=12),
       st.integers(1, 40))
@settings(max_examples=60, deadline=None)
def test_the_simultaneous_interval_is_bonferronis_and_holds_the_null_when_undecided(values,
                                                                                      family):
    test = stats.cells_random([[v] for v in values])
    if math.isnan(test.low) or test.high == test.low:
        return
    assert stats.simultaneous_interval(test, 1) == pytest.approx((test.low, test.high))
    low, high = stats.simultaneous_interval(test, family)
    assert low <= test.low + 1e-12 and high >= test.high - 1e-12
    # Undecided at the Bonferroni level exactly when the interval holds the null.
    undecided = min(1.0, family * test.p) >= stats.ALPHA
    assert undecided == (low <= test.null <= high) or math.isclose(family * test.p, stats.ALPHA,
                                                                   rel_tol=1e-6)

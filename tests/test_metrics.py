"""Metrics: capacity, interference, polysemanticity and accuracy on hand-built and random W1."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from satbench.generators.formula import Formula
from satbench.metrics import (
    accuracy,
    balanced_accuracy,
    bce_loss,
    capacity_total,
    clause_capacity,
    clause_directions,
    clause_interference,
    feature_capacity,
    gram,
    interference_summary,
    mean_abs_cos,
    mean_polysemanticity,
    polysemanticity,
)

# Entries are 0 or of magnitude >= 1e-3, so scaling never turns a weight into an underflow.
ENTRY = st.floats(-10, 10).map(lambda v: 0.0 if abs(v) < 1e-3 else v)


@st.composite
def weights(draw, max_h=7, max_d=7, elements=ENTRY):
    h = draw(st.integers(1, max_h))
    d = draw(st.integers(1, max_d))
    return draw(arrays(np.float64, (h, d), elements=elements))


def all_assignments(n: int) -> np.ndarray:
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.int8)


def encode(assignments: np.ndarray, encoding: str) -> np.ndarray:
    x = assignments.astype(np.float64)
    return 2 * x - 1 if encoding == "pm1" else np.concatenate([x, 1 - x], axis=1)


# ---------------------------------------------------------------------------------------- capacity


@pytest.mark.parametrize("h", [5, 8])
def test_orthonormal_columns_have_capacity_one_each(h):
    d = 5
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(h, d)))
    for w in (np.eye(h, d), q, 3.0 * q):
        np.testing.assert_allclose(feature_capacity(w), np.ones(d), atol=1e-12)
        assert capacity_total(w) == pytest.approx(d)


def test_two_identical_columns_share_one_dimension():
    w = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 0.0], [0.0, 0.0, 5.0]])
    np.testing.assert_allclose(feature_capacity(w), [0.5, 0.5, 1.0])
    np.testing.assert_allclose(feature_capacity(-w), [0.5, 0.5, 1.0])  # opposite signs too


def test_a_zero_column_has_capacity_zero_and_does_not_touch_the_others():
    w = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(feature_capacity(w), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(feature_capacity(np.zeros((3, 2))), [0.0, 0.0])


@given(weights())
@settings(max_examples=150, deadline=None)
def test_capacity_lies_in_the_unit_interval_and_sums_to_at_most_the_rank(w):
    c = feature_capacity(w)
    assert c.shape == (w.shape[1],)
    assert np.all((c >= 0) & (c <= 1))
    assert c.sum() <= np.linalg.matrix_rank(w) + 1e-9
    assert np.all(c[~w.any(axis=0)] == 0)


@given(weights(), st.floats(1e-3, 1e3), st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_capacity_and_cosines_ignore_scale_and_neuron_order(w, scale, rnd):
    order = list(range(w.shape[0]))
    rnd.shuffle(order)
    for other in (scale * w, w[order]):
        np.testing.assert_allclose(feature_capacity(other), feature_capacity(w), atol=1e-9)
        cos, cos_other = mean_abs_cos(w), mean_abs_cos(other)
        for key in ("all_pairs", "shared_inputs"):
            np.testing.assert_allclose(cos_other[key], cos[key], atol=1e-9, equal_nan=True)


FORMULA = Formula(4, ((1, -2, 3), (-1, 4), (2, 3, -4)), "dnf")


@given(weights(max_d=4, elements=st.integers(-3, 3).map(float)), st.integers(-20, 20),
       st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None)
def test_clause_metrics_ignore_scale_and_neuron_order(w, exponent, rnd):
    w = np.pad(w, ((0, 0), (0, 4 - w.shape[1])))
    order = list(range(w.shape[0]))
    rnd.shuffle(order)
    c = clause_capacity(w, FORMULA, "pm1")
    i = clause_interference(w, FORMULA, "pm1")
    assert np.all((c >= 0) & (c <= 1))
    assert math.isnan(i) or 0 <= i <= 1 + 1e-12
    for other in (2.0**exponent * w, w[order]):  # powers of two scale exactly
        np.testing.assert_allclose(clause_capacity(other, FORMULA, "pm1"), c, atol=1e-12)
        np.testing.assert_allclose(clause_interference(other, FORMULA, "pm1"), i, atol=1e-12,
                                   equal_nan=True)


def test_gram_is_the_feature_dot_product_matrix():
    w = np.array([[1.0, 2.0, 0.0], [3.0, -1.0, 1.0]])
    g = gram(w)
    assert g.shape == (3, 3)
    np.testing.assert_allclose(g, [[10.0, -1.0, 3.0], [-1.0, 5.0, -1.0], [3.0, -1.0, 1.0]])


# ------------------------------------------------------------------------------- clause directions


def test_clause_directions_in_both_encodings():
    formula = Formula(3, ((1, -3), (-2, 3)), "cnf")
    np.testing.assert_array_equal(
        clause_directions(formula, "pm1", 3), [[1, 0, -1], [0, -1, 1]]
    )
    np.testing.assert_array_equal(
        clause_directions(formula, "literals", 6), [[1, 0, 0, 0, 0, 1], [0, 0, 1, 0, 1, 0]]
    )
    np.testing.assert_array_equal(clause_directions(formula, "pm1"), [[1, 0, -1], [0, -1, 1]])


def test_clause_directions_reject_a_mismatched_input_count_and_encoding():
    formula = Formula(3, ((1, -3),), "cnf")
    with pytest.raises(ValueError, match="n_inputs"):
        clause_directions(formula, "literals", 3)
    with pytest.raises(ValueError, match="encoding"):
        clause_directions(formula, "onehot", 3)


def test_clauses_on_their_own_neurons_do_not_interfere():
    formula = Formula(4, ((1, 2), (-3, 4)), "dnf")
    w = np.eye(4)
    np.testing.assert_allclose(clause_capacity(w, formula, "pm1"), [1.0, 1.0])
    assert clause_interference(w, formula, "pm1") == pytest.approx(0.0)
    # One neuron reading both clauses' inputs embeds them along one direction.
    w_shared = np.ones((1, 4)) * np.array([1, 1, -1, 1])
    np.testing.assert_allclose(clause_capacity(w_shared, formula, "pm1"), [0.5, 0.5])
    assert clause_interference(w_shared, formula, "pm1") == pytest.approx(1.0)
    # Two clauses that overlap in one of two literals: cos = 1/2.
    overlap = Formula(3, ((1, 2), (2, 3)), "dnf")
    assert clause_interference(np.eye(3), overlap, "pm1") == pytest.approx(0.25)
    assert math.isnan(clause_interference(np.zeros((2, 4)), formula, "pm1"))


# --------------------------------------------------------------------------------------- cosines


def test_disjoint_supports_have_zero_cosine_and_no_shared_pairs():
    w = np.array([[1.0, -2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    result = mean_abs_cos(w)
    assert result["all_pairs"] == 0.0
    assert math.isnan(result["shared_inputs"])


def test_cosines_average_over_the_right_pairs():
    # Rows 0 and 1 share input 0 (|cos| = 1/sqrt 2); row 2 shares nothing (cos 0 with both).
    w = np.array([[1.0, 0.0, 0.0], [1.0, -1.0, 0.0], [0.0, 0.0, 2.0]])
    result = mean_abs_cos(w)
    assert result["all_pairs"] == pytest.approx((1 / math.sqrt(2)) / 3)
    assert result["shared_inputs"] == pytest.approx(1 / math.sqrt(2))
    assert math.isnan(mean_abs_cos(np.ones((1, 3)))["all_pairs"])


# ------------------------------------------------------------------------------- polysemanticity


@pytest.mark.parametrize("encoding", ["pm1", "literals"])
def test_a_neuron_that_detects_one_term_responds_to_that_term_only(encoding):
    formula = Formula(6, ((1, -2, 3), (4, 5, 6)), "dnf")
    assignments = all_assignments(6)
    clause_values, _ = formula.evaluate(assignments)
    x = encode(assignments, encoding)
    d0 = clause_directions(formula, encoding)[0]
    # pm1: d0 . x = 3 only when the term holds (else <= 1); literals: 3 only then (else <= 2).
    w = np.stack([d0, np.zeros_like(d0)])
    b = np.array([-2.0, 0.0])
    counts = polysemanticity(w, b, x, clause_values)
    np.testing.assert_array_equal(counts, [1, 0])  # neuron 1 is dead
    assert mean_polysemanticity(w, b, x, clause_values) == 1.0
    assert mean_polysemanticity(w, b, x, clause_values, include_dead=True) == 0.5


def test_a_cnf_violation_detector_responds_to_its_clause():
    formula = Formula(6, ((1, 2, -3), (4, -5, 6)), "cnf")
    assignments = all_assignments(6)
    clause_values, _ = formula.evaluate(assignments)
    x = encode(assignments, "pm1")
    w = -clause_directions(formula, "pm1")[:1]  # fires when every literal of clause 0 is false
    np.testing.assert_array_equal(polysemanticity(w, [-2.0], x, clause_values), [1])


def test_a_neuron_reading_a_shared_variable_responds_to_both_clauses_that_hold_it():
    formula = Formula(5, ((1, 2), (1, 3), (4, 5)), "dnf")
    assignments = all_assignments(5)
    clause_values, _ = formula.evaluate(assignments)
    w = np.array([[1.0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(
        polysemanticity(w, None, encode(assignments, "pm1"), clause_values), [2]
    )
    # A huge threshold turns every response off; a constant clause gets no response.
    assert polysemanticity(w, None, encode(assignments, "pm1"), clause_values, 100.0)[0] == 0
    constant = np.ones_like(clause_values)
    assert polysemanticity(w, None, encode(assignments, "pm1"), constant)[0] == 0


def test_polysemanticity_checks_its_shapes():
    with pytest.raises(ValueError, match="inputs"):
        polysemanticity(np.ones((2, 3)), None, np.ones((4, 2)), np.ones((4, 1)))
    with pytest.raises(ValueError, match="clause_values"):
        polysemanticity(np.ones((2, 3)), None, np.ones((4, 3)), np.ones((5, 1)))
    with pytest.raises(ValueError, match="b1"):
        polysemanticity(np.ones((2, 3)), np.ones(3), np.ones((4, 3)), np.ones((4, 1)))


# -------------------------------------------------------------------------------------- accuracy


def test_accuracy_and_balanced_accuracy_by_hand():
    logits = np.array([2.0, -1.0, 0.5, -3.0, 1.0, 0.0])  # predicts 1 0 1 0 1 0 (0 is not > 0)
    targets = np.array([1, 1, 1, 1, 0, 0])
    assert accuracy(logits, targets) == pytest.approx(3 / 6)
    # recall on 1s: 2/4, recall on 0s: 1/2
    assert balanced_accuracy(logits, targets) == pytest.approx(0.5)
    assert balanced_accuracy(logits[:4], targets[:4]) == pytest.approx(0.5)  # one class present
    assert accuracy(logits[:, None], targets) == accuracy(logits, targets)


def test_balanced_accuracy_averages_over_outputs():
    logits = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, -1.0]])
    targets = np.array([[1, 1], [1, 1], [1, 0], [0, 0]])
    # output 0: recalls 2/3 and 1 -> 5/6; output 1: recalls 1/2 and 1 -> 3/4
    assert balanced_accuracy(logits, targets) == pytest.approx((5 / 6 + 3 / 4) / 2)
    assert accuracy(logits, targets) == pytest.approx(6 / 8)


def test_bce_matches_torch_and_is_stable_for_large_logits():
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=5, size=(50, 3))
    targets = rng.integers(0, 2, size=(50, 3))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(logits), torch.from_numpy(targets).double()
    ).item()
    assert bce_loss(logits, targets) == pytest.approx(expected, rel=1e-12)
    assert bce_loss([1000.0, -1000.0], [1, 0]) == pytest.approx(0.0)
    assert bce_loss([1000.0], [0]) == pytest.approx(1000.0)


def test_accuracy_rejects_mismatched_shapes_and_non_binary_targets():
    with pytest.raises(ValueError, match="shapes"):
        accuracy(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="targets"):
        accuracy(np.zeros(3), np.array([0, 1, 2]))


# ---------------------------------------------------------------------------------- torch, numpy


def test_torch_and_numpy_inputs_give_the_same_results():
    rng = np.random.default_rng(2)
    formula = Formula(6, ((1, -2, 3), (4, 5, -6), (-1, 5, 2)), "dnf")
    assignments = all_assignments(6)
    clause_values, formula_values = formula.evaluate(assignments)
    x = encode(assignments, "pm1").astype(np.float32)
    w = rng.normal(size=(5, 6)).astype(np.float32)
    w[w < -0.8] = 0.0
    b = rng.normal(size=5).astype(np.float32)
    logits = rng.normal(size=len(x)).astype(np.float32)
    tw, tb, tx = torch.from_numpy(w).requires_grad_(), torch.from_numpy(b), torch.from_numpy(x)
    tc, tl, ty = torch.from_numpy(clause_values), torch.from_numpy(logits), torch.from_numpy(
        formula_values)

    np.testing.assert_array_equal(feature_capacity(tw), feature_capacity(w))
    np.testing.assert_array_equal(gram(tw), gram(w))
    assert mean_abs_cos(tw) == mean_abs_cos(w)
    np.testing.assert_array_equal(clause_capacity(tw, formula, "pm1"),
                                  clause_capacity(w, formula, "pm1"))
    assert clause_interference(tw, formula, "pm1") == clause_interference(w, formula, "pm1")
    np.testing.assert_array_equal(polysemanticity(tw, tb, tx, tc),
                                  polysemanticity(w, b, x, clause_values))
    assert accuracy(tl, ty) == accuracy(logits, formula_values)
    assert balanced_accuracy(tl, ty) == balanced_accuracy(logits, formula_values)
    assert bce_loss(tl, ty) == bce_loss(logits, formula_values)
    summary = interference_summary(w, b, formula, "pm1", x, clause_values)
    assert interference_summary(tw, tb, formula, "pm1", tx, tc) == summary
    assert set(summary) == {"capacity_total", "capacity_clause_total", "mean_abs_cos",
                            "mean_abs_cos_shared_inputs", "clause_interference",
                            "polysemanticity_mean"}
    assert all(isinstance(v, float) for v in summary.values())

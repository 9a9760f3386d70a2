"""Split strategies: validity and balance for every registered splitter, the clause splitter's
structure, clause integrity, the registry, and determinism."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from satbench.collision_law import (
    asymptotic_collision_rate,
    exact_collision_rate,
    exact_whole_rate,
)
from satbench.errors import SatbenchError
from satbench.generators.formula import Formula
from satbench.generators.random_formula import random_formula
from satbench.models import (
    SplitContext,
    clause_collisions,
    clause_integrity,
    clause_partition,
    get_splitter,
    register_splitter,
    splitter_names,
    unregister_splitter,
)
from satbench.rng import numpy_rng
from satbench.testing import (
    check_clause_spread,
    check_split,
    check_splitter,
    clause_split_cases,
    reachable_spread,
    seeds,
    split_contexts,
    task_specs,
)

BUILT_INS = ("clause", "clause-weighted", "contiguous", "random", "random-shared")
CLAUSE_AWARE = ("clause", "clause-weighted")


def _max_imbalance(name: str, context: SplitContext, alpha: int) -> int:
    # clause: balanced in variables, so one variable's inputs of slack, unless alpha > n_vars
    # forces single-input units.
    n_vars = len(np.unique(context.input_variable))
    if name in CLAUSE_AWARE and alpha <= n_vars:
        return int(np.bincount(context.input_variable).max())
    return 1


def test_the_built_ins_are_registered():
    assert set(BUILT_INS) <= set(splitter_names())
    assert [get_splitter(n).shared for n in BUILT_INS] == [True, False, True, False, True]


@pytest.mark.parametrize("name", BUILT_INS)
@given(context=split_contexts(), data=st.data(), seed=seeds)
@settings(max_examples=30, deadline=None)
def test_every_splitter_returns_a_valid_balanced_split(name, context, data, seed):
    alpha = data.draw(st.integers(1, min(4, context.n_inputs)), label="alpha")
    n_parents = data.draw(st.integers(1, 5), label="n_parents")
    splitter = get_splitter(name)
    check_splitter(splitter, alpha, context, numpy_rng(seed, "t"), n_parents=n_parents,
                   max_imbalance=_max_imbalance(name, context, alpha))


@pytest.mark.parametrize("name", BUILT_INS)
@given(context=split_contexts(), seed=seeds, alpha=st.integers(1, 4))
@settings(max_examples=15, deadline=None)
def test_splitters_are_deterministic_in_their_rng(name, context, seed, alpha):
    alpha = min(alpha, context.n_inputs)
    weight = np.ones((3, context.n_inputs), dtype=np.float32)
    first = get_splitter(name).split(weight, alpha, context, numpy_rng(seed, "t"))
    again = get_splitter(name).split(weight, alpha, context, numpy_rng(seed, "t"))
    assert np.array_equal(first, again)


def test_random_is_per_parent_and_random_shared_is_not():
    context = SplitContext.without_clauses(16)
    weight = np.ones((8, 16), dtype=np.float32)
    per_parent = get_splitter("random").split(weight, 2, context, numpy_rng(0, "t"))
    shared = get_splitter("random-shared").split(weight, 2, context, numpy_rng(0, "t"))
    assert len({row.tobytes() for row in per_parent}) > 1
    assert len({row.tobytes() for row in shared}) == 1


def test_contiguous_blocks():
    context = SplitContext.without_clauses(7)
    child = get_splitter("contiguous").split(np.ones((2, 7)), 3, context, numpy_rng(0, "t"))
    assert child.tolist() == [[0, 0, 0, 1, 1, 2, 2]] * 2


@given(alpha=st.integers(1, 4), width=st.integers(1, 3), extra=st.integers(0, 3),
       encoding=st.sampled_from(["pm1", "literals"]), seed=seeds)
@settings(max_examples=40, deadline=None)
def test_clause_split_keeps_variable_disjoint_clauses_whole(alpha, width, extra, encoding, seed):
    # alpha clauses on disjoint variables (shuffled), plus `extra` variables in no clause per
    # group, so a balanced split that keeps every clause whole exists.
    rng = numpy_rng(seed, "disjoint")
    n_vars = alpha * (width + extra)
    variables = rng.permutation(n_vars)[: alpha * width].reshape(alpha, width) + 1
    signs = rng.choice([-1, 1], size=variables.shape)
    clauses = tuple(tuple(int(v) for v in row) for row in variables * signs)
    context = SplitContext.for_formula(Formula(n_vars, clauses, "dnf"), encoding)
    row = clause_partition(context, alpha, numpy_rng(seed, "split"))
    assert clause_integrity(row, context) == 1.0
    assert len(np.unique(row)) == alpha


def test_clause_split_two_disjoint_clauses_alpha_two():
    context = SplitContext.for_formula(Formula(6, ((1, -4, 5), (2, 3, -6)), "dnf"))
    child = get_splitter("clause").split(np.ones((3, 6)), 2, context, numpy_rng(0, "t"))
    assert clause_integrity(child, context) == 1.0
    assert {frozenset(np.flatnonzero(child[0] == c)) for c in (0, 1)} == {
        frozenset({0, 3, 4}), frozenset({1, 2, 5})}


@given(context=split_contexts(encodings=["literals"]), seed=seeds, alpha=st.integers(1, 4))
@settings(max_examples=30, deadline=None)
def test_clause_split_keeps_both_literal_inputs_of_a_variable_together(context, seed, alpha):
    n_vars = context.n_inputs // 2
    if alpha > n_vars:
        alpha = context.n_inputs  # the fallback: more children than variables
    row = clause_partition(context, alpha, numpy_rng(seed, "t"))
    check_split(row[None, :], alpha, context, max_imbalance=2)
    if alpha <= n_vars:
        assert np.array_equal(row[:n_vars], row[n_vars:])


def _bisection_scores(labels: np.ndarray, formula: Formula) -> list[Fraction]:
    """Whole clauses minus 2/m per colliding pair, for each row of (rows, n_vars) labels."""
    variables = np.array([[abs(lit) - 1 for lit in clause] for clause in formula.clauses])
    groups = labels[:, variables]
    whole = (groups == groups[:, :, :1]).all(axis=2)
    held = np.stack([(whole & (groups[:, :, 0] == c)).sum(axis=1) for c in (0, 1)])
    pairs = (held * (held - 1) // 2).sum(axis=0)
    return [Fraction(int(w)) - Fraction(2, len(variables)) * int(p)
            for w, p in zip(whole.sum(axis=1), pairs, strict=True)]


def test_clause_split_is_near_the_best_balanced_bisection_on_small_formulas():
    """Against every balanced bisection of 72 small shared-variable formulas, scored
    independently of the splitter's code by the module docstring's score (whole clauses minus
    alpha/m per colliding pair). The algorithm is a heuristic: it must reach the optimum in at
    least 95% of them and never fall more than one colliding pair short."""
    misses = []
    for n_vars in (12, 14, 16):
        labels = np.zeros((math.comb(n_vars - 1, n_vars // 2 - 1), n_vars), dtype=int)
        # Variable 0 goes to group 1 without loss of generality.
        for row, half in enumerate(itertools.combinations(range(1, n_vars), n_vars // 2 - 1)):
            labels[row, [0, *half]] = 1
        for n_clauses, seed in itertools.product((3, 4, 6, 8, 12, 16), range(4)):
            formula = random_formula(n_vars, n_clauses, 3, "dnf", seed=seed)
            row = clause_partition(SplitContext.for_formula(formula), 2, numpy_rng(seed, "t"))
            gap = (max(_bisection_scores(labels, formula))
                   - _bisection_scores(row[None].astype(int), formula)[0])
            if gap:
                misses.append((n_vars, n_clauses, seed, gap))
    assert len(misses) <= 0.05 * 72, misses
    assert all(gap <= Fraction(2, n_clauses) for _, n_clauses, _, gap in misses), misses


def test_clause_split_needs_clauses():
    context = SplitContext.without_clauses(6)
    with pytest.raises(SatbenchError, match="needs the formula's clauses"):
        get_splitter("clause").split(np.ones((2, 6)), 2, context, numpy_rng(0, "t"))


def test_clause_integrity_counts_whole_clauses_and_averages_over_parents():
    context = SplitContext.for_formula(Formula(4, ((1, 2), (3, -4)), "cnf"), "literals")
    whole_both = np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int8)
    whole_first = np.array([0, 0, 1, 0, 0, 0, 1, 1], dtype=np.int8)
    assert clause_integrity(whole_both, context) == 1.0
    assert clause_integrity(whole_first, context) == 0.5
    assert clause_integrity(np.stack([whole_both, whole_first]), context) == 0.75
    # Under 'literals' a clause's inputs include the negated inputs of its variables.
    split_literal = np.array([0, 0, 1, 1, 1, 0, 1, 1], dtype=np.int8)
    assert clause_integrity(split_literal, context) == 0.5


def test_unknown_splitter_names_the_known_ones():
    with pytest.raises(SatbenchError) as info:
        get_splitter("magic")
    message = str(info.value)
    assert "'magic'" in message and "\n" not in message
    for name in BUILT_INS:
        assert name in message


def test_a_plugin_registers_with_one_line_and_duplicates_are_refused():
    @register_splitter
    class Alternating:
        name = "test-alternating"
        version = "1"
        shared = True

        def split(self, weight, alpha, context, rng):
            row = (np.arange(context.n_inputs) % alpha).astype(np.int8)
            return np.tile(row, (len(weight), 1))

    try:
        assert "test-alternating" in splitter_names()
        context = SplitContext.without_clauses(5)
        check_splitter(get_splitter("test-alternating"), 3, context, numpy_rng(0, "t"),
                       max_imbalance=1)
        with pytest.raises(SatbenchError, match="already registered"):
            register_splitter(Alternating())
        register_splitter(Alternating(), replace=True)
    finally:
        unregister_splitter("test-alternating")
    assert "test-alternating" not in splitter_names()


def test_a_splitter_without_a_version_is_refused():
    class Unversioned:
        name, shared = "test-unversioned", True

        def split(self, weight, alpha, context, rng):
            return None

    with pytest.raises(SatbenchError, match="version"):
        register_splitter(Unversioned())
    assert "test-unversioned" not in splitter_names()


def test_register_refuses_objects_that_are_not_splitters():
    class Nameless:
        shared = True

        def split(self, weight, alpha, context, rng):
            return None

    with pytest.raises(SatbenchError, match="name"):
        register_splitter(Nameless())


def test_check_split_reports_what_is_wrong():
    context = SplitContext.without_clauses(4)
    with pytest.raises(AssertionError, match="dtype int8"):
        check_split(np.zeros((2, 4), dtype=np.int64), 2, context)
    with pytest.raises(AssertionError, match=r"parent 1: child 1 gets no input"):
        check_split(np.array([[0, 1, 0, 1], [0, 0, 0, 0]], dtype=np.int8), 2, context)
    with pytest.raises(AssertionError, match=r"child\[0, 2\] = 5 is outside"):
        check_split(np.array([[0, 1, 5, 1]], dtype=np.int8), 2, context)
    with pytest.raises(AssertionError, match=r"parent 0: child sizes \[3, 1\] differ by 2"):
        check_split(np.array([[0, 0, 0, 1]], dtype=np.int8), 2, context, max_imbalance=1)
    with pytest.raises(AssertionError, match="shared split: parent 1 sends input 0"):
        check_split(np.array([[0, 1, 0, 1], [1, 0, 0, 1]], dtype=np.int8), 2, context,
                    shared=True)


def test_split_context_validates_clauses_and_shapes():
    with pytest.raises(SatbenchError, match="no network input"):
        SplitContext(3, np.arange(3), ((1, 4),))
    with pytest.raises(SatbenchError, match="input_variable"):
        SplitContext(3, np.arange(4), None)
    context = SplitContext.for_formula(Formula(3, ((1, -3),), "cnf"), "literals")
    assert context.input_variable.tolist() == [0, 1, 2, 0, 1, 2]
    assert [g.tolist() for g in context.clause_inputs()] == [[0, 2, 3, 5]]


@given(spec=task_specs())
@settings(max_examples=30, deadline=None)
def test_a_task_spec_and_its_formula_give_a_context_of_the_right_width(spec):
    formula = random_formula(spec.n_vars, spec.n_clauses, spec.width, spec.form, spec.seed,
                             spec.planted)
    context = SplitContext.for_formula(formula, spec.encoding)
    assert context.n_inputs == spec.n_inputs
    assert len(context.clause_inputs()) == spec.n_clauses


@pytest.mark.parametrize("name", CLAUSE_AWARE)
@given(case=clause_split_cases(), seed=seeds)
@settings(max_examples=60, deadline=None)
def test_clause_aware_splits_keep_clauses_whole_and_spread_them(name, case, seed):
    """satbench.testing's spread invariant: on read-once formulas the most whole clauses and the
    fewest collisions any balanced partition reaches, on shared ones the stated bound."""
    context, alpha = case
    check_clause_spread(get_splitter(name), alpha, context, numpy_rng(seed, "split"))


class _AllClausesInOneChild:
    """Version 1 of the clause split on read-once formulas: every clause whole, all in child 1."""

    name, version, shared = "one-child", "1", True

    def split(self, weight, alpha, context, rng):
        row = np.zeros(context.n_inputs, dtype=np.int8)
        in_clauses = np.unique(np.concatenate(context.clause_inputs()))
        free = np.setdiff1d(np.arange(context.n_inputs), in_clauses)
        row[in_clauses] = 1
        row[free[: context.n_inputs // 2 - len(in_clauses)]] = 1
        return np.tile(row, (len(weight), 1))


def test_the_spread_invariant_fails_a_split_that_puts_every_clause_in_one_child():
    formula = random_formula(96, 8, 3, "dnf", 0, support="disjoint")
    context = SplitContext.for_formula(formula)
    child = _AllClausesInOneChild().split(np.zeros((1, 96)), 2, context, None)
    assert clause_integrity(child, context) == 1.0  # integrity alone cannot see it
    with pytest.raises(AssertionError, match=r"\[0, 8\] whole clauses, 28 colliding pairs; 12"):
        check_clause_spread(_AllClausesInOneChild(), 2, context, numpy_rng(0, "t"))


def test_reachable_spread_is_water_filling_under_the_room():
    assert reachable_spread(96, 8, 3, 2) == (8, 12)  # 4 and 4: 6 + 6 pairs
    assert reachable_spread(96, 8, 3, 4) == (8, 4)  # 2 each
    assert reachable_spread(9, 3, 3, 2) == (2, 0)  # groups of 5 and 4: one whole clause each
    assert reachable_spread(10, 3, 3, 2) == (2, 0)
    assert reachable_spread(12, 3, 3, 2) == (3, 1)


@pytest.mark.parametrize("h", [2, 8])
def test_the_weighted_split_separates_the_clauses_a_parent_mixes(h):
    """Each parent's two heaviest clauses land in different children, at the fewest collisions."""
    formula = random_formula(96, 8, 3, "dnf", 0, support="disjoint")
    context = SplitContext.for_formula(formula)
    weight = numpy_rng(1, "t").standard_normal((h, 96)) * 0.01
    groups = context.clause_inputs()
    heavy = numpy_rng(2, "t").permuted(np.tile(np.arange(8), (h, 1)), axis=1)[:, :2]
    for parent, (a, b) in enumerate(heavy):
        weight[parent, groups[a]] = weight[parent, groups[b]] = 1.0
    child = get_splitter("clause-weighted").split(weight, 2, context, numpy_rng(0, "t"))
    for parent, (a, b) in enumerate(heavy):
        assert child[parent, groups[a][0]] != child[parent, groups[b][0]]
    assert clause_collisions(child, context)[0] == pytest.approx(12 / 28)
    assert len({row.tobytes() for row in child}) > 1  # per parent, not shared


def test_clause_collisions_count_pairs_whole_in_one_child():
    formula = Formula(6, ((1, 2), (3, 4), (5, 6)), "dnf")
    context = SplitContext.for_formula(formula)
    # parent 0: clauses 1 and 2 whole in child 0, clause 3 whole in child 1 -> 1 of 3 pairs
    # parent 1: clause 1 broken, clauses 2 and 3 whole in child 1 -> 1 of 3 pairs
    child = np.array([[0, 0, 0, 0, 1, 1], [0, 1, 1, 1, 1, 1]], dtype=np.int8)
    per_parent, any_parent = clause_collisions(child, context)
    assert per_parent == pytest.approx(1 / 3)
    assert any_parent == pytest.approx(2 / 3)  # pairs (1,2) in parent 0 and (2,3) in parent 1


@given(st.integers(2, 4), st.integers(0, 10**6))
@settings(max_examples=20, deadline=None)
def test_random_split_collisions_match_the_exact_finite_n_rate(alpha, seed):
    """Over many parents, the per-parent collision rate of the random split is the
    hypergeometric value sum_c C(s_c, 2k) / C(n, 2k) (the law's finite-n form)."""
    n, k = 24, 2
    formula = random_formula(n, 2, k, "dnf", seed, support="disjoint")
    context = SplitContext.for_formula(formula)
    child = get_splitter("random").split(np.zeros((4000, n)), alpha, context,
                                         numpy_rng(seed, "split"))
    exact = exact_collision_rate(n, k, alpha)
    assert clause_collisions(child, context)[0] == pytest.approx(exact, abs=4 * math.sqrt(
        exact * (1 - exact) / 4000) + 1e-9)


def test_the_exact_rates_tend_to_the_paper_s_law():
    assert exact_collision_rate(12, 3, 2) == pytest.approx(2 * math.comb(6, 6) / math.comb(12, 6))
    for alpha, k in ((2, 3), (4, 3), (2, 2)):
        rates = [exact_collision_rate(alpha * m, k, alpha) for m in (8, 64, 4096)]
        assert rates[0] < rates[1] < rates[2]  # from below, as n grows
        assert rates[2] == pytest.approx(asymptotic_collision_rate(k, alpha), rel=1e-2)
        assert exact_whole_rate(alpha * 4096, k, alpha) == pytest.approx(alpha ** -(k - 1),
                                                                         rel=1e-2)

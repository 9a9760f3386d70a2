"""Random formula generation and vectorised evaluation, cross-checked against python-sat."""

import itertools
import random
import subprocess
import sys
from math import comb

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pysat.solvers import Solver

from satbench.errors import SatbenchError
from satbench.generators.formula import Formula
from satbench.generators.random_formula import (
    max_distinct_clauses,
    planted_assignment,
    random_formula,
)


@st.composite
def formula_args(draw, max_vars=12):
    n = draw(st.integers(1, max_vars))
    k = draw(st.integers(1, min(n, 4)))
    planted = draw(st.booleans())
    form = "cnf" if planted else draw(st.sampled_from(["cnf", "dnf"]))
    m = draw(st.integers(1, min(60, max_distinct_clauses(n, k, planted))))
    return dict(n_vars=n, n_clauses=m, width=k, form=form, planted=planted,
                seed=draw(st.integers(0, 2**32)))


def naive_evaluate(formula: Formula, x: np.ndarray) -> tuple[list[bool], bool]:
    literal = lambda lit: bool(x[abs(lit) - 1]) == (lit > 0)  # noqa: E731
    combine = any if formula.form == "cnf" else all
    clauses = [combine(literal(lit) for lit in clause) for clause in formula.clauses]
    return clauses, (all if formula.form == "cnf" else any)(clauses)


@given(formula_args())
@settings(max_examples=150, deadline=None)
def test_generated_formulas_have_exact_shape_and_no_duplicates_or_tautologies(args):
    formula = random_formula(**args)
    assert formula.n_vars == args["n_vars"]
    assert formula.n_clauses == args["n_clauses"]
    assert formula.form == args["form"]
    assert all(len(c) == args["width"] for c in formula.clauses)
    variable_sets = [tuple(abs(lit) for lit in c) for c in formula.clauses]
    assert all(len(set(v)) == len(v) for v in variable_sets), "repeated variable in a clause"
    assert len({frozenset(c) for c in formula.clauses}) == formula.n_clauses, "duplicate clause"
    if args["planted"]:
        keep = planted_assignment(args["n_vars"], args["seed"], args["n_clauses"],
                                  args["width"], args.get("support", "shared"))
        assert formula.evaluate(keep[None, :])[1][0], "planted assignment violates the formula"


@given(formula_args(), st.integers(1, 20), st.integers(0, 2**32))
@settings(max_examples=100, deadline=None)
def test_vectorised_evaluation_matches_clause_by_clause_evaluation(args, rows, seed):
    formula = random_formula(**args)
    x = np.random.default_rng(seed).integers(0, 2, (rows, formula.n_vars))
    clauses, values = formula.evaluate(x)
    for row in range(rows):
        want_clauses, want_value = naive_evaluate(formula, x[row])
        assert clauses[row].tolist() == want_clauses
        assert values[row] == want_value


@given(formula_args(max_vars=30))
@settings(max_examples=80, deadline=None)
def test_a_solver_model_of_a_cnf_always_evaluates_true(args):
    args = {**args, "form": "cnf"}
    formula = random_formula(**args)
    with Solver(name="cadical153", bootstrap_with=[list(c) for c in formula.clauses]) as s:
        if not s.solve():
            return
        model = np.zeros(formula.n_vars, dtype=bool)
        for literal in s.get_model()[: formula.n_vars]:
            model[abs(literal) - 1] = literal > 0
    clauses, value = formula.evaluate(model[None, :])
    assert value[0] and clauses.all()


@given(st.integers(3, 8), st.integers(0, 2**32), st.integers(0, 2**32))
@settings(max_examples=40, deadline=None)
def test_an_unsat_cnf_never_evaluates_true(n_vars, seed, sample_seed):
    # Every sign pattern over the same 3 variables: provably UNSAT, plus random extra clauses.
    base = random_formula(n_vars, 8, 3, "cnf", seed)
    full = tuple(tuple(v * s for v, s in zip((1, 2, 3), signs, strict=True))
                 for signs in itertools.product((1, -1), repeat=3))
    formula = Formula(n_vars, full + base.clauses, "cnf")
    with Solver(name="cadical153", bootstrap_with=[list(c) for c in formula.clauses]) as s:
        assert not s.solve()
    x = np.random.default_rng(sample_seed).integers(0, 2, (2000, n_vars))
    assert not formula.evaluate(x)[1].any()


def test_the_unsat_satlib_instance_never_evaluates_true(satlib):
    from satbench.generators.dimacs import read_dimacs

    formula = read_dimacs(satlib / "uuf50-01.cnf")
    x = np.random.default_rng(0).integers(0, 2, (50_000, formula.n_vars))
    assert not formula.evaluate(x)[1].any()


@given(formula_args(), st.integers(0, 2**32))
@settings(max_examples=100, deadline=None)
def test_cnf_and_dnf_agree_under_negation(args, seed):
    formula = random_formula(**args)
    negated = formula.negation()
    assert negated.form != formula.form
    assert negated.negation() == formula
    x = np.random.default_rng(seed).integers(0, 2, (64, formula.n_vars))
    clauses, values = formula.evaluate(x)
    negated_clauses, negated_values = negated.evaluate(x)
    assert (negated_values == ~values).all()
    assert (negated_clauses == ~clauses).all()


def test_same_arguments_give_the_same_formula_and_other_seeds_differ():
    a = random_formula(40, 170, 3, "cnf", seed=7)
    assert a == random_formula(40, 170, 3, "cnf", seed=7)
    assert a.fingerprint == random_formula(40, 170, 3, "cnf", seed=7).fingerprint
    assert a.clauses != random_formula(40, 170, 3, "cnf", seed=8).clauses


def test_the_fingerprint_is_the_same_in_another_process():
    code = ("from satbench.generators.random_formula import random_formula;"
            "print(random_formula(40, 170, 3, 'dnf', seed=3).fingerprint)")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert other == random_formula(40, 170, 3, "dnf", seed=3).fingerprint


def test_generation_touches_no_global_random_state():
    states = (np.random.get_state()[1].copy(), torch.random.get_rng_state().clone(),
              random.getstate())
    random_formula(30, 100, 3, "cnf", seed=1, planted=True)
    random_formula(4, 30, 3, "dnf", seed=1)  # the enumerate-and-choose branch
    assert (np.random.get_state()[1] == states[0]).all()
    assert torch.equal(torch.random.get_rng_state(), states[1])
    assert random.getstate() == states[2]


def test_requests_for_every_distinct_clause_are_met_exactly():
    formula = random_formula(4, comb(4, 3) * 8, 3, "cnf", seed=0)
    assert len({frozenset(c) for c in formula.clauses}) == 32
    planted = random_formula(4, comb(4, 3) * 7, 3, "cnf", seed=0, planted=True)
    assert planted.evaluate(planted_assignment(4, 0, comb(4, 3) * 7)[None, :])[1][0]


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_vars=3, n_clauses=5, width=4), "width: 4 is larger than the number of variables"),
    (dict(n_vars=3, n_clauses=9, width=3), "only 8 distinct width-3 clauses"),
    (dict(n_vars=3, n_clauses=8, width=3, planted=True), "only 7"),
    (dict(n_vars=0, n_clauses=5, width=1), "vars: expected a positive integer"),
    (dict(n_vars=5, n_clauses=0, width=1), "clauses: expected a positive integer"),
    (dict(n_vars=5, n_clauses=3, width=-1), "width: expected a positive integer"),
    (dict(n_vars=5, n_clauses=3, width=2, form="xor"), "form: expected one of cnf, dnf"),
    (dict(n_vars=5, n_clauses=3, width=2, form="dnf", planted=True), "cnf only"),
])
def test_impossible_requests_fail_with_a_clear_error(kwargs, message):
    with pytest.raises(SatbenchError, match=message):
        random_formula(**kwargs)


@st.composite
def disjoint_shapes(draw):
    width = draw(st.integers(1, 4))
    n_clauses = draw(st.integers(1, 12))
    n_vars = draw(st.integers(n_clauses * width, n_clauses * width + 10))
    return n_vars, n_clauses, width


@given(disjoint_shapes(), st.sampled_from(["cnf", "dnf"]), st.booleans(), st.integers(0, 10**6))
@settings(max_examples=80, deadline=None)
def test_a_disjoint_formula_is_read_once(shape, form, planted, seed):
    n_vars, n_clauses, width = shape
    planted = planted and form == "cnf"
    formula = random_formula(n_vars, n_clauses, width, form, seed, planted, support="disjoint")
    variables = [abs(lit) for clause in formula.clauses for lit in clause]
    assert len(formula.clauses) == n_clauses and formula.n_vars == n_vars
    assert all(len(clause) == width for clause in formula.clauses)
    assert len(variables) == len(set(variables))  # each variable in at most one clause
    if planted:
        keep = planted_assignment(n_vars, seed, n_clauses, width, "disjoint")
        assert all(any(keep[abs(lit) - 1] == (lit > 0) for lit in clause)
                   for clause in formula.clauses)


def test_a_disjoint_formula_needs_m_times_k_variables():
    with pytest.raises(SatbenchError, match="support disjoint: 5 clauses of 3 variables each "
                                            "need n_vars >= 15, got 14"):
        random_formula(14, 5, 3, "dnf", 0, support="disjoint")
    assert random_formula(15, 5, 3, "dnf", 0, support="disjoint").n_clauses == 5


def test_shared_support_is_the_generator_of_before():
    assert random_formula(32, 8, 3, "dnf", 3) == \
        random_formula(32, 8, 3, "dnf", 3, support="shared")


@pytest.mark.parametrize("n_vars, width, planted", [(60, 3, False), (40, 3, True), (30, 4, False),
                                                    (2**22, 3, False)])
def test_the_batched_sampler_for_large_formulas_keeps_every_guarantee(n_vars, width, planted):
    """From BATCHED_FROM clauses on, clauses come from the vectorised sampler: still m distinct
    clauses of k distinct variables (no tautology), planted ones satisfied, seeded, and each
    variable about equally often. 2^22 variables make the int64 clause key overflow, so the
    sampler falls back to comparing rows."""
    from satbench.generators.random_formula import BATCHED_FROM

    m = BATCHED_FROM
    formula = random_formula(n_vars, m, width, "cnf", seed=3, planted=planted)
    literals = formula.literal_array
    assert formula.n_clauses == m and len(set(formula.clauses)) == m
    variables = np.abs(literals)
    assert (np.diff(np.sort(variables, axis=1), axis=1) > 0).all()
    if planted:
        keep = planted_assignment(n_vars, 3, m, width)
        assert ((literals > 0) == keep[variables - 1]).any(axis=1).all()
    assert formula == random_formula(n_vars, m, width, "cnf", seed=3, planted=planted)
    if n_vars < 100:  # each variable's count is Binomial(m k, 1/n) under uniform sampling
        counts = np.bincount(variables.ravel() - 1, minlength=n_vars)
        expected = m * width / n_vars
        assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)
        negative = float((literals < 0).mean())
        assert abs(negative - 0.5) < 0.02  # planted: each variable set loses one pattern of 2^k

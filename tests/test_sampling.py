"""Class sampling: membership, distinctness, counts, method choice, uniformity of the exact methods,
determinism, errors, and the class CNF and XOR encodings cross-checked with python-sat."""

import itertools
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pysat.solvers import Solver

from satbench.errors import SatbenchError
from satbench.generators import sampling
from satbench.generators.formula import Formula
from satbench.generators.random_formula import random_formula
from satbench.generators.sampling import class_cnf, sample_class, xor_cnf
from satbench.testing import formulas


def everything(n: int) -> np.ndarray:
    return ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)


def class_of(formula: Formula, value: bool) -> np.ndarray:
    """The class, as the sorted integers of its assignments (bit v-1 = variable v)."""
    rows = everything(formula.n_vars)
    return np.flatnonzero(formula.evaluate(rows)[1] == value)


def as_ints(rows: np.ndarray) -> np.ndarray:
    return rows.astype(np.int64) @ (1 << np.arange(rows.shape[1], dtype=np.int64))


def check_sample(formula: Formula, value: bool, rows: np.ndarray, count: int) -> None:
    assert rows.shape == (count, formula.n_vars) and rows.dtype == bool
    assert (formula.evaluate(rows)[1] == value).all(), "a returned assignment is not in the class"
    assert len(np.unique(rows, axis=0)) == count, "returned assignments are not distinct"


def chi2_pvalue(counts: np.ndarray, draws: int, per_run: int) -> float:
    """Pearson's test against uniform, corrected for draws without replacement within a run."""
    expected = draws / len(counts)
    chi2 = ((counts - expected) ** 2 / expected).sum() / (1 - per_run / len(counts))
    return float(torch.special.gammaincc(torch.tensor((len(counts) - 1) / 2, dtype=torch.float64),
                                         torch.tensor(chi2 / 2, dtype=torch.float64)))


# --- membership, distinctness and counts ----------------------------------------------------------


@given(formulas(max_vars=10, max_clauses=12, max_width=4), st.booleans(),
       st.sampled_from(["enumeration", "rejection", "solver", None]), st.integers(0, 40),
       st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_samples_are_distinct_class_members_or_the_class_is_too_small(
        formula, value, method, count, seed):
    size = len(class_of(formula, value))
    if method == "rejection" and count > size:
        count = size  # forced rejection on a too-small class only gives up after its budget
    rng = np.random.default_rng(seed)
    if count > size:
        with pytest.raises(SatbenchError, match=f"only {size} " if size else "has no "):
            sample_class(formula, value, count, rng, method=method)
        return
    rows, used = sample_class(formula, value, count, rng, method=method)
    check_sample(formula, value, rows, count)
    assert used == (method or "enumeration")


def test_the_whole_class_can_be_drawn():
    formula = random_formula(12, 30, 3, "cnf", 5, planted=True)
    members = class_of(formula, True)
    for method in ("enumeration", "rejection", "solver"):
        rows, _ = sample_class(formula, True, len(members), np.random.default_rng(1), method=method)
        assert np.array_equal(np.sort(as_ints(rows)), members), method


def test_count_zero_and_bad_arguments():
    formula = random_formula(30, 100, 3, "cnf", 0, planted=True)
    rows, _ = sample_class(formula, True, 0, np.random.default_rng(0))
    assert rows.shape == (0, 30)
    unsat = Formula(30, ((1,), (-1,)), "cnf")
    assert sample_class(unsat, True, 0, np.random.default_rng(0))[0].shape == (0, 30)
    with pytest.raises(SatbenchError, match="count"):
        sample_class(formula, True, -1, np.random.default_rng(0))
    with pytest.raises(SatbenchError, match="method"):
        sample_class(formula, True, 3, np.random.default_rng(0), method="magic")
    with pytest.raises(SatbenchError, match="enumeration"):
        sample_class(random_formula(40, 10, 3, "cnf", 0), True, 3, np.random.default_rng(0),
                     method="enumeration")


# --- method selection ---------------------------------------------------------------------------


def test_method_selection():
    rng = np.random.default_rng(0)
    small = random_formula(20, 80, 3, "cnf", 1, planted=True)
    assert sample_class(small, True, 10, rng)[1] == "enumeration"
    assert sample_class(small, False, 10, rng)[1] == "enumeration"
    planted = random_formula(64, 256, 3, "cnf", 0, planted=True)
    assert sample_class(planted, False, 1000, rng)[1] == "rejection"  # almost all falsify it
    assert sample_class(planted, True, 100, rng)[1] == "solver"  # ~2^-40 of assignments satisfy it
    loose = random_formula(30, 20, 3, "cnf", 2)  # about 7/8^20 = 7% satisfy it
    assert sample_class(loose, True, 1000, rng)[1] == "rejection"
    wide_terms = random_formula(40, 3, 20, "dnf", 3)  # ~3 * 2^-20 are positive: too rare
    rows, used = sample_class(wide_terms, True, 200, rng)
    assert used == "solver"
    check_sample(wide_terms, True, rows, 200)


def test_performance_target_planted_64_256():
    """5,000 positives (solver) and 5,000 negatives (rejection) take a few seconds (~1 s here)."""
    formula = random_formula(64, 256, 3, "cnf", 2, planted=True)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    positives, method_pos = sample_class(formula, True, 5000, rng)
    negatives, method_neg = sample_class(formula, False, 5000, rng)
    elapsed = time.perf_counter() - start
    assert (method_pos, method_neg) == ("solver", "rejection")
    check_sample(formula, True, positives, 5000)
    check_sample(formula, False, negatives, 5000)
    assert elapsed < 20, f"took {elapsed:.1f} s"


# --- uniformity of the exact methods ------------------------------------------------------------


@pytest.mark.parametrize("method", ["enumeration", "rejection", "solver"])
def test_exact_methods_are_uniform(method):
    # 37 of 64 assignments; each run draws 10 of them without replacement. With a fixed seed the
    # outcome is fixed, and an exact sampler passes the (loose) threshold with room to spare.
    formula = random_formula(6, 5, 3, "cnf", 11)
    members = class_of(formula, True)
    position = {int(x): i for i, x in enumerate(members)}
    counts = np.zeros(len(members))
    rng = np.random.default_rng(1234)
    runs, per_run = 400, 10
    for _ in range(runs):
        rows, used = sample_class(formula, True, per_run, rng, method=method)
        assert used == method
        counts[[position[int(x)] for x in as_ints(rows)]] += 1
    assert chi2_pvalue(counts, runs * per_run, per_run) > 1e-3
    assert counts.min() > 0


def test_rejection_matches_the_class_marginals():
    # x1 x2 or x3 x4 over 24 variables: 7/16 of assignments, rejection. Within the class x1 is true
    # with probability 5/7 (by enumerating x1..x4) and x5..x24 stay fair coins.
    formula = Formula(24, ((1, 2), (3, 4)), "dnf")
    rows, method = sample_class(formula, True, 20_000, np.random.default_rng(5))
    assert method == "rejection"
    check_sample(formula, True, rows, 20_000)
    se = np.sqrt(0.25 / 20_000)
    assert abs(rows[:, 0].mean() - 5 / 7) < 4 * se
    assert np.abs(rows[:, 4:].mean(axis=0) - 0.5).max() < 4.5 * se


# --- determinism --------------------------------------------------------------------------------


@pytest.mark.parametrize("formula, value, count", [
    (random_formula(16, 60, 3, "cnf", 1, planted=True), True, 20),        # enumeration
    (random_formula(64, 256, 3, "cnf", 0, planted=True), False, 500),     # rejection
    (random_formula(40, 140, 3, "cnf", 4, planted=True), True, 300),      # solver: cells + chain
    (random_formula(40, 3, 20, "dnf", 3), True, 100),                     # solver, Tseitin
])
def test_same_seed_same_sample(formula, value, count):
    first, method = sample_class(formula, value, count, np.random.default_rng(7))
    again, method_again = sample_class(formula, value, count, np.random.default_rng(7))
    other, _ = sample_class(formula, value, count, np.random.default_rng(8))
    assert method == method_again
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_solver_parts_are_deterministic():
    formula = random_formula(40, 140, 3, "cnf", 4, planted=True)  # 10,664 positives
    for options in ({"exhaust": False}, {"starts": "phases"}, {"burn_in_sweeps": 0}):
        a = sampling._by_solver(formula, True, 200, np.random.default_rng(3), **options)
        b = sampling._by_solver(formula, True, 200, np.random.default_rng(3), **options)
        assert np.array_equal(a, b), options
        check_sample(formula, True, a, 200)


# --- errors -------------------------------------------------------------------------------------


def test_unsat_positives_fail_fast():
    unsat = random_formula(40, 600, 3, "cnf", 0)  # ratio 15: UNSAT
    start = time.perf_counter()
    with pytest.raises(SatbenchError, match="no satisfying .*UNSAT.*cannot draw positive"):
        sample_class(unsat, True, 10, np.random.default_rng(0))
    assert time.perf_counter() - start < 5
    with pytest.raises(SatbenchError, match="no satisfying .*checked all 2\\^4"):
        sample_class(Formula(4, ((1,), (-1,)), "cnf"), True, 1, np.random.default_rng(0))


def test_tautology_negatives_fail():
    tautology = Formula(30, ((1,), (-1,)), "dnf")
    with pytest.raises(SatbenchError, match="no falsifying .*valid.*cannot draw negative"):
        sample_class(tautology, False, 5, np.random.default_rng(0))


def test_class_smaller_than_count():
    # 28 variables fixed by unit clauses, 2 free: 4 positives.
    tight = Formula(30, tuple((v,) for v in range(1, 29)), "cnf")
    with pytest.raises(SatbenchError, match="only 4 .*listed them all.*but 5 distinct"):
        sample_class(tight, True, 5, np.random.default_rng(0))
    rows, _ = sample_class(tight, True, 4, np.random.default_rng(0))
    check_sample(tight, True, rows, 4)
    small = random_formula(10, 40, 3, "cnf", 3, planted=True)
    size = len(class_of(small, True))
    with pytest.raises(SatbenchError, match=f"only {size} of the 2\\^10 .*but {size + 1}"):
        sample_class(small, True, size + 1, np.random.default_rng(0))


# --- the solver path on larger formulas ---------------------------------------------------------


@pytest.mark.parametrize("formula, value", [
    (random_formula(40, 140, 3, "cnf", 4, planted=True), True),   # cnf & True: the formula
    (random_formula(40, 4, 18, "cnf", 6), False),                  # cnf & False: Tseitin
    (random_formula(42, 4, 20, "dnf", 7), True),                   # dnf & True: Tseitin
    (random_formula(40, 120, 3, "dnf", 8), False),                 # dnf & False: negated terms
])
def test_solver_path_returns_class_members(formula, value):
    rows, method = sample_class(formula, value, 400, np.random.default_rng(0), method="solver")
    assert method == "solver"
    check_sample(formula, value, rows, 400)


def test_markov_chain_and_phase_starts_stay_in_the_class():
    formula = random_formula(48, 160, 3, "cnf", 9, planted=True)  # 4,666 positives
    rows = sampling._by_solver(formula, True, 300, np.random.default_rng(0), starts="phases",
                               burn_in_sweeps=4)
    check_sample(formula, True, rows, 300)


# --- encodings, cross-checked with python-sat ---------------------------------------------------


def projected_models(clauses: list[list[int]], n: int) -> set[int]:
    found = set()
    with Solver(name="minisat22", bootstrap_with=clauses) as solver:
        while solver.solve():
            model = solver.get_model()[:n]
            found.add(sum(1 << (abs(lit) - 1) for lit in model if lit > 0))
            solver.add_clause([-lit for lit in model])
    return found


@given(formulas(max_vars=8, max_clauses=10, max_width=3), st.booleans())
@settings(max_examples=60, deadline=None)
def test_class_cnf_models_project_onto_the_class(formula, value):
    models = projected_models(class_cnf(formula, value), formula.n_vars)
    assert models == set(class_of(formula, value).tolist())


@given(st.integers(1, 8), st.integers(0, 4), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_xor_cnf_models_are_the_solutions_of_the_system(n, k, seed):
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 2, size=(k, n), dtype=np.uint8)
    parities = rng.integers(0, 2, size=k)
    clauses = xor_cnf(rows, parities, n + 1)
    x = everything(n).astype(np.int64)
    solutions = set(np.flatnonzero(((x @ rows.T.astype(np.int64)) % 2 == parities).all(1)))
    if clauses is None:
        assert not solutions
        return
    assert projected_models([*clauses, [n, -n]], n) == solutions


@given(formulas(max_vars=9, max_clauses=12, max_width=4), st.booleans())
@settings(max_examples=40, deadline=None)
def test_bit_sliced_evaluation_matches_formula_evaluate(formula, value):
    rows = everything(formula.n_vars)
    bits = sampling._ClassEvaluator(formula, value)(sampling._pack(rows))
    as_bool = sampling._bits_to_bool(bits)[: len(rows)]
    assert np.array_equal(as_bool, formula.evaluate(rows)[1] == value)
    assert np.array_equal(sampling._unpack(sampling._pack(rows), np.arange(len(rows))), rows)


def test_parity_clauses_cover_every_pattern():
    for size, parity in itertools.product(range(1, 5), (0, 1)):
        clauses = sampling._parity_clauses(list(range(1, size + 1)), parity)
        for bits in itertools.product((0, 1), repeat=size):
            satisfied = all(any((lit > 0) == bool(bits[abs(lit) - 1]) for lit in c)
                            for c in clauses)
            assert satisfied == (sum(bits) % 2 == parity)

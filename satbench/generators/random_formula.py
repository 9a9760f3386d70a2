"""Random k-clause formulas with exactly n variables, m distinct clauses and width k."""

import itertools

import numpy as np

from satbench.errors import SatbenchError
from satbench.generators.formula import Formula
from satbench.rng import numpy_rng
from satbench.specs import FORMS, check_counts, max_distinct_clauses


def planted_assignment(n_vars: int, seed: int) -> np.ndarray:
    """The planted assignment (bool, variable v at index v-1) that random_formula plants."""
    return numpy_rng(seed, "planted-assignment").integers(0, 2, n_vars).astype(bool)


def random_formula(
    n_vars: int, n_clauses: int, width: int = 3, form: str = "cnf", seed: int = 0,
    planted: bool = False, support: str = "shared",
) -> Formula:
    """m distinct clauses drawn uniformly from all width-k clauses (without replacement).

    support 'disjoint' instead gives each clause its own k variables (a read-once formula): a
    random permutation of the variables is cut into m blocks of k, signs uniform. With
    planted=True (cnf only) every clause is satisfied by planted_assignment(n_vars, seed), so
    the formula is satisfiable.
    """
    if form not in FORMS:
        raise SatbenchError(f"form: expected one of {', '.join(FORMS)}, got {form!r}")
    if planted and form != "cnf":
        raise SatbenchError("planted: applies to cnf only (a dnf with distinct variables per term "
                            "is always satisfiable)")
    check_counts(n_vars, n_clauses, width, planted, support)
    keep = planted_assignment(n_vars, seed) if planted else None
    if support == "disjoint":
        return Formula(n_vars, _disjoint(n_vars, n_clauses, width, keep, seed), form)
    if support != "shared":
        raise SatbenchError(f"support: expected one of shared, disjoint, got {support!r}")
    rng = numpy_rng(seed, "formula")
    if 2 * n_clauses >= max_distinct_clauses(n_vars, width, planted):
        clauses = _choose_from_all(n_vars, n_clauses, width, keep, rng)
    else:
        clauses = _rejection_sample(n_vars, n_clauses, width, keep, rng)
    return Formula(n_vars, tuple(clauses), form)


def _disjoint(n_vars, n_clauses, width, keep, seed) -> tuple[tuple[int, ...], ...]:
    """m clauses on disjoint blocks of k variables; a planted assignment's one violating sign
    pattern per clause is redrawn (rejection keeps the other patterns uniform)."""
    rng = numpy_rng(seed, "formula-disjoint")
    blocks = rng.permutation(n_vars)[: n_clauses * width].reshape(n_clauses, width)
    clauses = []
    for variables in np.sort(blocks, axis=1):
        negated = rng.integers(0, 2, width).astype(bool)
        while not _satisfied_by(variables, negated, keep):
            negated = rng.integers(0, 2, width).astype(bool)
        clauses.append(_make_clause(variables, negated))
    return tuple(clauses)


def _satisfied_by(variables: np.ndarray, negated: np.ndarray, keep: np.ndarray | None) -> bool:
    return keep is None or bool(np.any(keep[variables] != negated))


def _make_clause(variables: np.ndarray, negated: np.ndarray) -> tuple[int, ...]:
    return tuple(int(-(v + 1) if neg else v + 1) for v, neg in zip(variables, negated, strict=True))


def _rejection_sample(n_vars, n_clauses, width, keep, rng) -> list[tuple[int, ...]]:
    # Under half of all clauses are wanted, so each draw is new with probability > 1/2.
    seen: set[tuple[int, ...]] = set()
    clauses = []
    while len(clauses) < n_clauses:
        variables = np.sort(rng.choice(n_vars, size=width, replace=False))
        negated = rng.integers(0, 2, width).astype(bool)
        clause = _make_clause(variables, negated)
        if clause in seen or not _satisfied_by(variables, negated, keep):
            continue
        seen.add(clause)
        clauses.append(clause)
    return clauses


def _choose_from_all(n_vars, n_clauses, width, keep, rng) -> list[tuple[int, ...]]:
    # Dense requests: list every allowed clause (at most 2m of them) and choose m.
    candidates = []
    for variables in itertools.combinations(range(n_vars), width):
        variables = np.array(variables)
        for pattern in range(2**width):
            negated = np.array([(pattern >> bit) & 1 for bit in range(width)], dtype=bool)
            if _satisfied_by(variables, negated, keep):
                candidates.append(_make_clause(variables, negated))
    chosen = rng.choice(len(candidates), size=n_clauses, replace=False)
    return [candidates[i] for i in chosen]

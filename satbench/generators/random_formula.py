"""Random k-clause formulas with exactly n variables, m distinct clauses and width k."""

import itertools

import numpy as np

from satbench.errors import SatbenchError
from satbench.generators.formula import Formula
from satbench.memory import check_formula_memory
from satbench.rng import numpy_rng
from satbench.specs import FORMS, SUPPORTS, check_counts, formula_cell, max_distinct_clauses

# Formulas of this many clauses or more come from the batched sampler: the same distribution as
# the one-at-a-time one, whose per-clause Python cost is seconds at 10^5 clauses (smaller formulas
# keep the one-at-a-time stream, and so every formula satbench has stored).
BATCHED_FROM = 10_000


def planted_assignment(n_vars: int, seed: int, n_clauses: int, width: int = 3,
                       support: str = "shared") -> np.ndarray:
    """The planted assignment (bool, variable v at index v-1) that random_formula plants in the
    planted cnf of these fields (its formula cell seeds it, satbench.rng)."""
    cell = formula_cell(n_vars, n_clauses, width, "cnf", True, support)
    return numpy_rng(seed, "planted-assignment", cell=cell).integers(0, 2, n_vars).astype(bool)


def random_formula(
    n_vars: int, n_clauses: int, width: int = 3, form: str = "cnf", seed: int = 0,
    planted: bool = False, support: str = "shared",
) -> Formula:
    """m distinct clauses drawn uniformly from all width-k clauses (without replacement).

    support 'disjoint' instead gives each clause its own k variables (a read-once formula): a
    random permutation of the variables is cut into m blocks of k, signs uniform. With
    planted=True (cnf only) every clause is satisfied by planted_assignment(n_vars, seed,
    n_clauses, width, support), so the formula is satisfiable.

    Every stream is seeded from the seed and the formula cell (satbench.specs.formula_cell: all
    the arguments but the seed), so at one seed formulas of different shapes are drawn
    independently: none is a prefix of another.
    """
    if form not in FORMS:
        raise SatbenchError(f"form: expected one of {', '.join(FORMS)}, got {form!r}")
    if planted and form != "cnf":
        raise SatbenchError("planted: applies to cnf only (a dnf with distinct variables per term "
                            "is always satisfiable)")
    check_counts(n_vars, n_clauses, width, planted, support)
    check_formula_memory(n_vars, n_clauses, width, planted, support)
    if support not in SUPPORTS:
        raise SatbenchError(f"support: expected one of shared, disjoint, got {support!r}")
    cell = formula_cell(n_vars, n_clauses, width, form, planted, support)
    keep = planted_assignment(n_vars, seed, n_clauses, width, support) if planted else None
    if support == "disjoint":
        return Formula(n_vars, _disjoint(n_vars, n_clauses, width, keep,
                                         numpy_rng(seed, "formula-disjoint", cell=cell)), form)
    rng = numpy_rng(seed, "formula", cell=cell)
    if 2 * n_clauses >= max_distinct_clauses(n_vars, width, planted):
        clauses = _choose_from_all(n_vars, n_clauses, width, keep, rng)
    elif n_clauses >= BATCHED_FROM:
        clauses = _batched_rejection_sample(n_vars, n_clauses, width, keep,
                                            numpy_rng(seed, "formula-batched", cell=cell))
    else:
        clauses = _rejection_sample(n_vars, n_clauses, width, keep, rng)
    return Formula(n_vars, tuple(clauses), form)


def _disjoint(n_vars, n_clauses, width, keep, rng) -> tuple[tuple[int, ...], ...]:
    """m clauses on disjoint blocks of k variables; a planted assignment's one violating sign
    pattern per clause is redrawn (rejection keeps the other patterns uniform)."""
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


def _batched_rejection_sample(n_vars, n_clauses, width, keep, rng) -> list[tuple[int, ...]]:
    """_rejection_sample's distribution, drawn in vectorised rounds: each round proposes enough
    clauses for what is missing (k variables uniform with replacement, signs uniform), rejects
    those with a repeated variable or violated by the planted assignment, and keeps, in
    proposal order, each clause not seen before. The accepted sequence is one of distinct
    clauses drawn uniformly, as the one-at-a-time sampler's is (another random stream)."""
    accepted = np.empty((0, width), dtype=np.int64)  # signed literals, variables ascending
    while len(accepted) < n_clauses:
        missing = n_clauses - len(accepted)
        proposals = missing + missing // 4 + 64
        variables = np.sort(rng.integers(0, n_vars, (proposals, width)), axis=1)
        negated = rng.integers(0, 2, (proposals, width)).astype(bool)
        valid = (np.diff(variables, axis=1) > 0).all(axis=1)
        if keep is not None:
            valid &= (keep[variables] != negated).any(axis=1)
        literals = np.where(negated, -(variables + 1), variables + 1)[valid]
        both = np.concatenate([accepted, literals])
        _, first = np.unique(_clause_keys(both, n_vars), axis=0, return_index=True)
        new = np.sort(first[first >= len(accepted)])  # first sightings, in proposal order
        accepted = np.concatenate([accepted, both[new[:missing]]])
    return list(map(tuple, accepted.tolist()))


def _clause_keys(literals: np.ndarray, n_vars: int) -> np.ndarray:
    """One int64 per clause (its literals as digits in base 2n + 1) when that fits, so that
    finding repeats sorts numbers rather than rows; the rows themselves otherwise."""
    base = 2 * n_vars + 1
    if base ** literals.shape[1] >= 2**63:
        return literals
    return (literals + n_vars) @ (base ** np.arange(literals.shape[1], dtype=np.int64))


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

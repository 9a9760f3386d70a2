"""Whole-formula questions answered by python-sat or by enumeration."""

import numpy as np
from pysat.solvers import Solver

from satbench.generators.formula import Formula

SOLVER = "cadical153"
_ENUMERATION_CHUNK = 1 << 16


def is_satisfiable(formula: Formula) -> bool:
    """A cnf asks the solver; a dnf is satisfiable iff some term has no complementary pair."""
    if formula.form == "dnf":
        return any(not any(-lit in clause for lit in clause) for clause in formula.clauses)
    with Solver(name=SOLVER, bootstrap_with=[list(c) for c in formula.clauses]) as solver:
        return solver.solve()


def assignments_from_indices(indices: np.ndarray, n_vars: int) -> np.ndarray:
    """Bool rows for assignment indices; bit v-1 of an index is variable v."""
    indices = np.asarray(indices, dtype=np.int64)
    return ((indices[:, None] >> np.arange(n_vars, dtype=np.int64)) & 1).astype(bool)


def all_assignments(n_vars: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Assignments start..stop-1 of all 2^n, as bool rows."""
    stop = 2**n_vars if stop is None else stop
    return assignments_from_indices(np.arange(start, stop, dtype=np.int64), n_vars)


def count_models(formula: Formula) -> int:
    """Exact model count by enumeration (only sensible for small n)."""
    total = 0
    for start in range(0, 2**formula.n_vars, _ENUMERATION_CHUNK):
        chunk = all_assignments(formula.n_vars, start, min(start + _ENUMERATION_CHUNK,
                                                          2**formula.n_vars))
        total += int(formula.evaluate(chunk)[1].sum())
    return total

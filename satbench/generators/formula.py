"""The Formula value type and its vectorised evaluation.

A formula is a list of clauses over variables 1..n_vars, each clause a tuple of DIMACS literals
(+v or -v). Its form says how to read it:
- cnf: clauses are disjunctions; the formula is their conjunction;
- dnf: clauses (terms) are conjunctions; the formula is their disjunction.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.specs import FORMS

_EVAL_CHUNK = 1 << 15  # rows per evaluation chunk, so a 2^20-row enumeration stays small in memory


@dataclass(frozen=True, eq=True)
class Formula:
    n_vars: int
    clauses: tuple[tuple[int, ...], ...]
    form: str = "cnf"

    def __post_init__(self):
        if self.form not in FORMS:
            raise SatbenchError(f"form: expected one of {', '.join(FORMS)}, got {self.form!r}")
        if self.n_vars < 1:
            raise SatbenchError(f"n_vars: expected a positive count, got {self.n_vars}")
        for index, clause in enumerate(self.clauses, start=1):
            if not clause:
                raise SatbenchError(f"clause {index}: empty clause")
            for literal in clause:
                if literal == 0 or abs(literal) > self.n_vars:
                    raise SatbenchError(
                        f"clause {index}: literal {literal} is outside 1..{self.n_vars}"
                    )

    @property
    def n_clauses(self) -> int:
        return len(self.clauses)

    @property
    def widths(self) -> np.ndarray:
        return np.array([len(clause) for clause in self.clauses], dtype=np.int64)

    @property
    def width(self) -> int:
        """The widest clause's width (all clauses share it in generated formulas)."""
        return int(self.widths.max()) if self.clauses else 0

    @cached_property
    def literal_array(self) -> np.ndarray:
        """(m, max width) int32 array of DIMACS literals, zero-padded on the right."""
        array = np.zeros((self.n_clauses, max(self.width, 1)), dtype=np.int32)
        for row, clause in enumerate(self.clauses):
            array[row, : len(clause)] = clause
        return array

    @cached_property
    def fingerprint(self) -> str:
        return sha256_of(
            {"kind": "Formula", "form": self.form, "n_vars": self.n_vars}, self.literal_array
        )

    def negation(self) -> "Formula":
        """The formula's negation by De Morgan: flip the form and every literal."""
        other = "dnf" if self.form == "cnf" else "cnf"
        return Formula(self.n_vars, tuple(tuple(-lit for lit in c) for c in self.clauses), other)

    def evaluate(self, assignments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate on a batch of assignments.

        assignments: (N, n_vars) array of {0,1} or bool; variable v is column v-1.
        Returns (clause_values (N, m) bool, formula_values (N,) bool). A clause's value is its own
        truth value: a satisfied disjunction for cnf, a satisfied conjunction for dnf.
        """
        assignments = np.asarray(assignments)
        if assignments.ndim != 2 or assignments.shape[1] != self.n_vars:
            raise SatbenchError(
                f"assignments: expected shape (N, {self.n_vars}), got {assignments.shape}"
            )
        # Column index of each literal in [x, not x, neutral]; padding reads the neutral column,
        # False for a disjunction and True for a conjunction, so it never changes a clause.
        n = self.n_vars
        lits = self.literal_array
        index = np.where(lits > 0, lits - 1, np.where(lits < 0, n - lits - 1, 2 * n))
        neutral = self.form == "dnf"
        clause_values = np.empty((len(assignments), self.n_clauses), dtype=bool)
        for start in range(0, len(assignments), _EVAL_CHUNK):
            x = assignments[start : start + _EVAL_CHUNK].astype(bool, copy=False)
            padded = np.concatenate([x, ~x, np.full((len(x), 1), neutral)], axis=1)
            literal_values = padded[:, index]
            if self.form == "cnf":
                clause_values[start : start + len(x)] = literal_values.any(axis=2)
            else:
                clause_values[start : start + len(x)] = literal_values.all(axis=2)
        if self.form == "cnf":
            formula_values = clause_values.all(axis=1)
        else:
            formula_values = clause_values.any(axis=1)
        return clause_values, formula_values

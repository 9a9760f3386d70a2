"""Frozen, self-validating specs. The CLI flags, results rows and fingerprints all derive from them."""

import dataclasses
from dataclasses import dataclass

from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.generators.formula import FORMS
from satbench.generators.random_formula import check_counts

ENCODINGS = ("pm1", "literals")
TARGETS = ("formula", "clauses")


def _check_choice(field: str, value, choices) -> None:
    if value not in choices:
        raise SatbenchError(f"{field}: expected one of {', '.join(choices)}, got {value!r}")


def _check_int(field: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SatbenchError(f"{field}: expected an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class TaskSpec:
    """One formula-evaluation task: the formula's shape and the dataset drawn from it.

    encoding: pm1 gives n inputs in {-1,+1}; literals gives 2n inputs in {0,1} (x then not x).
    target: formula gives one output (the formula's value); clauses gives one per clause.
    formula_fingerprint: set when the formula is a user's file rather than generated from the
    seed; the dataset builder checks the file against it.
    """

    n_vars: int
    n_clauses: int
    width: int = 3
    form: str = "cnf"
    planted: bool = False
    encoding: str = "pm1"
    target: str = "formula"
    n_train: int = 4096
    n_test: int = 2048
    positive_fraction: float = 0.5
    seed: int = 0
    formula_fingerprint: str | None = None

    def __post_init__(self):
        _check_choice("form", self.form, FORMS)
        _check_choice("encoding", self.encoding, ENCODINGS)
        _check_choice("target", self.target, TARGETS)
        _check_int("n_train", self.n_train, 1)
        _check_int("n_test", self.n_test, 1)
        _check_int("seed", self.seed, 0)
        if not 0.0 <= float(self.positive_fraction) <= 1.0:
            raise SatbenchError(
                f"positive_fraction: expected a number in [0, 1], got {self.positive_fraction!r}"
            )
        if self.formula_fingerprint is None:
            if self.planted and self.form != "cnf":
                raise SatbenchError("planted: applies to cnf only")
            check_counts(self.n_vars, self.n_clauses, self.width, self.planted)
        else:
            _check_int("n_vars", self.n_vars, 1)
            _check_int("n_clauses", self.n_clauses, 1)
            _check_int("width", self.width, 1)
        if self.n_vars < 63 and self.n_train + self.n_test > 2**self.n_vars:
            raise SatbenchError(
                f"n_train + n_test: {self.n_train + self.n_test} samples requested, but only "
                f"{2**self.n_vars} distinct assignments of {self.n_vars} variables exist"
            )

    @property
    def n_inputs(self) -> int:
        return self.n_vars if self.encoding == "pm1" else 2 * self.n_vars

    @property
    def n_outputs(self) -> int:
        return 1 if self.target == "formula" else self.n_clauses

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TaskSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SatbenchError(f"TaskSpec: unknown fields {', '.join(unknown)}")
        return cls(**data)

    @property
    def fingerprint(self) -> str:
        return sha256_of({"kind": "TaskSpec", "spec": self.to_dict()})

    def replace(self, **changes) -> "TaskSpec":
        return dataclasses.replace(self, **changes)

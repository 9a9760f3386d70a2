"""How a Boolean assignment of n variables becomes a network's inputs: one object per encoding.

pm1: n inputs in {-1,+1}; input v-1 is variable v (+1 true, -1 false).
literals: 2n inputs in {0,1}; inputs 0..n-1 are x_1..x_n, inputs n..2n-1 are NOT x_1..NOT x_n.

Everything that depends on the encoding (the input count, which variable each input reads, the
encoded inputs, the input direction of a literal) lives here, so adding an encoding is one class
plus one registry line. This module sits at the bottom of the package: it imports only numpy, the
standard library and satbench.errors.
"""

from abc import ABC, abstractmethod

import numpy as np

from satbench.errors import SatbenchError


class Encoding(ABC):
    """One encoding. Stateless, so immutable: subclasses set `name` and `description` on the class.

    name: the value of TaskSpec.encoding.
    description: one line for help texts, "<name>: <inputs>".
    """

    __slots__ = ()
    name: str
    description: str

    @abstractmethod
    def n_inputs(self, n_vars: int) -> int:
        """The network's input count for n_vars variables."""

    @abstractmethod
    def input_variables(self, n_vars: int) -> np.ndarray:
        """(n_inputs,) int array: the 0-based variable each input reads."""

    @abstractmethod
    def encode(self, assignments) -> np.ndarray:
        """(rows, n_inputs) float32 network inputs for a (rows, n_vars) bool or 0/1 array."""

    @abstractmethod
    def literal_input(self, literal: int, n_vars: int) -> tuple[int, float]:
        """(input index, sign): a DIMACS literal's direction in input space is sign * e_index.

        A clause's direction is the sum over its literals (see metrics.capacity.clause_directions).
        """

    def __repr__(self) -> str:
        return f"get_encoding({self.name!r})"


def _as_float32_rows(assignments) -> np.ndarray:
    x = np.asarray(assignments).astype(np.float32)
    if x.ndim != 2:
        raise ValueError(f"assignments: expected a (rows, n_vars) array, got shape {x.shape}")
    return x


class PlusMinusOne(Encoding):
    """pm1: input v-1 is variable v, +1 when true and -1 when false."""

    __slots__ = ()
    name = "pm1"
    description = "pm1: n inputs in {-1,+1}"

    def n_inputs(self, n_vars: int) -> int:
        return n_vars

    def input_variables(self, n_vars: int) -> np.ndarray:
        return np.arange(n_vars)

    def encode(self, assignments) -> np.ndarray:
        return 2.0 * _as_float32_rows(assignments) - 1.0

    def literal_input(self, literal: int, n_vars: int) -> tuple[int, float]:
        # +v points along +e_{v-1}, -v along -e_{v-1}: toward the value that makes it true.
        return abs(literal) - 1, 1.0 if literal > 0 else -1.0


class Literals(Encoding):
    """literals: one {0,1} input per literal, x_1..x_n then NOT x_1..NOT x_n."""

    __slots__ = ()
    name = "literals"
    description = "literals: 2n inputs in {0,1}"

    def n_inputs(self, n_vars: int) -> int:
        return 2 * n_vars

    def input_variables(self, n_vars: int) -> np.ndarray:
        return np.concatenate([np.arange(n_vars), np.arange(n_vars)])

    def encode(self, assignments) -> np.ndarray:
        x = _as_float32_rows(assignments)
        return np.concatenate([x, 1.0 - x], axis=1)

    def literal_input(self, literal: int, n_vars: int) -> tuple[int, float]:
        # +v is the one-hot input x_v, -v the one-hot input NOT x_v; both add +1.
        v = abs(literal) - 1
        return (v if literal > 0 else n_vars + v), 1.0


ENCODINGS: dict[str, Encoding] = {e.name: e for e in (PlusMinusOne(), Literals())}


def get_encoding(name: str) -> Encoding:
    """The encoding called `name`; SatbenchError for an unknown name."""
    try:
        return ENCODINGS[name]
    except (KeyError, TypeError):
        raise SatbenchError(
            f"encoding: expected one of {', '.join(ENCODINGS)}, got {name!r}"
        ) from None


def clause_inputs(clauses, input_variable: np.ndarray) -> list[np.ndarray]:
    """For each clause, every input that reads one of its variables (input_variable: the 0-based
    variable of each input, Encoding.input_variables)."""
    return [np.flatnonzero(np.isin(input_variable, [abs(lit) - 1 for lit in clause]))
            for clause in clauses]

"""Split strategies for FPE: how a parent neuron's inputs are dealt out to its alpha children.

A splitter returns `child`, an int8 array of shape (h, n_inputs) with labels in [0, alpha): input j
of parent i goes to child child[i, j]. One label per input makes the children disjoint by
construction; every child must get at least one input (alpha <= n_inputs).

Splitters live in a registry. A new one, built in or a user's plugin, is one class plus one line:

    class MySplitter:
        name = "mine"
        version = "1"  # bump it when the split changes: runs that use it retrain
        shared = False  # True when every parent gets the same partition
        def split(self, weight, alpha, context, rng): ...
    register_splitter(MySplitter())

and satbench.testing.check_split / check_fpe_invariants check it.
"""

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from satbench.encoding import clause_inputs, get_encoding
from satbench.errors import SatbenchError
from satbench.generators.formula import Formula
from satbench.registry import Registry

# --- what a splitter sees ------------------------------------------------------------------


def input_variables(n_vars: int, encoding: str) -> np.ndarray:
    """0-based variable of each network input under an encoding (see satbench.encoding)."""
    return get_encoding(encoding).input_variables(n_vars)


@dataclass(frozen=True, eq=False)
class SplitContext:
    """The task structure a splitter may use.

    input_variable: (n_inputs,) 0-based variable index of each input.
    clauses: the formula's clauses as DIMACS literals, or None when the splitter must not (or
    cannot) know them.
    """

    n_inputs: int
    input_variable: np.ndarray
    clauses: tuple[tuple[int, ...], ...] | None = None

    def __post_init__(self):
        variables = np.array(self.input_variable, dtype=np.int64)  # a private, read-only copy
        if variables.shape != (self.n_inputs,) or (variables < 0).any():
            raise SatbenchError(
                f"input_variable: expected {self.n_inputs} non-negative variable indices, "
                f"got shape {variables.shape}"
            )
        variables.flags.writeable = False
        object.__setattr__(self, "input_variable", variables)
        if self.clauses is not None:
            clauses = tuple(tuple(int(lit) for lit in clause) for clause in self.clauses)
            known = set(variables.tolist())
            for index, clause in enumerate(clauses, start=1):
                missing = [lit for lit in clause if lit == 0 or abs(lit) - 1 not in known]
                if not clause or missing:
                    raise SatbenchError(
                        f"clauses: clause {index} {clause} has literals with no network input "
                        f"({missing or 'empty clause'})"
                    )
            object.__setattr__(self, "clauses", clauses)

    @classmethod
    def for_formula(cls, formula: Formula, encoding: str = "pm1",
                    with_clauses: bool = True) -> "SplitContext":
        variables = input_variables(formula.n_vars, encoding)
        return cls(len(variables), variables, formula.clauses if with_clauses else None)

    @classmethod
    def without_clauses(cls, n_inputs: int) -> "SplitContext":
        """Each input is its own variable and no formula is known."""
        return cls(n_inputs, np.arange(n_inputs), None)

    def clause_inputs(self) -> list[np.ndarray]:
        """For each clause, every input that reads one of its variables."""
        if self.clauses is None:
            raise SatbenchError("clauses: this split context carries no formula")
        return clause_inputs(self.clauses, self.input_variable)


@runtime_checkable
class Splitter(Protocol):
    name: str
    version: str  # a plugin's version enters the key of every run that uses it
    shared: bool  # one partition for all parents

    def split(self, weight: np.ndarray, alpha: int, context: SplitContext,
              rng: np.random.Generator) -> np.ndarray:
        """child labels (h, n_inputs) int8 in [0, alpha) for parent weights (h, n_inputs)."""
        ...


# --- the registry --------------------------------------------------------------------------

SPLITTERS = Registry("splitter", field="split", required=("split", "shared"))


def register_splitter(splitter, *, replace: bool = False):
    """Register a splitter instance (or a class, instantiated without arguments) by its name.

    It needs a split() method, a bool `shared` and a `version` string. Returns its argument, so it
    also works as a class decorator.
    """
    instance = splitter() if isinstance(splitter, type) else splitter
    name = getattr(instance, "name", None)
    if not callable(getattr(instance, "split", None)) or not isinstance(
            getattr(instance, "shared", None), bool):
        raise SatbenchError(f"splitter {name!r}: needs a split() method and a bool 'shared'")
    SPLITTERS.register(instance, replace=replace)
    return splitter


def unregister_splitter(name: str) -> None:
    SPLITTERS.unregister(name)


def splitter_names() -> list[str]:
    return sorted(SPLITTERS.names())


def get_splitter(name: str) -> Splitter:
    return SPLITTERS.get(name)


# --- checking a split ----------------------------------------------------------------------


def split_problems(child, alpha: int, context: SplitContext,
                   n_parents: int | None = None) -> list[str]:
    """What is wrong with a splitter's output, as readable lines (empty when it is valid)."""
    child = np.asarray(child)
    if child.ndim != 2 or child.shape[1] != context.n_inputs or (
            n_parents is not None and child.shape[0] != n_parents):
        rows = n_parents if n_parents is not None else "h"
        return [f"child: expected shape ({rows}, {context.n_inputs}), got {child.shape}"]
    if child.dtype != np.int8:
        return [f"child: expected dtype int8, got {child.dtype}"]
    problems = []
    bad = np.argwhere((child < 0) | (child >= alpha))
    if len(bad):
        i, j = bad[0]
        problems.append(f"child[{i}, {j}] = {child[i, j]} is outside [0, {alpha})")
    elif alpha <= context.n_inputs:
        sizes = group_sizes(child, alpha)
        empty = np.argwhere(sizes == 0)
        if len(empty):
            i, c = empty[0]
            problems.append(f"parent {i}: child {c} gets no input")
    return problems


def group_sizes(child: np.ndarray, alpha: int) -> np.ndarray:
    """(h, alpha) number of inputs each child of each parent gets."""
    return (child[:, :, None] == np.arange(alpha)).sum(axis=1)


def clause_integrity(child, context: SplitContext) -> float:
    """Fraction of clauses whose inputs all land in one child (mean over parents for 2-D child).

    A clause's inputs are all inputs of its variables (both literal inputs under 'literals').
    With no clauses the fraction is vacuously 1.
    """
    child = np.atleast_2d(np.asarray(child))
    groups = context.clause_inputs()
    if not groups:
        return 1.0
    whole = [(child[:, inputs] == child[:, inputs[:1]]).all(axis=1) for inputs in groups]
    return float(np.mean(whole))


def clause_collisions(child, context: SplitContext) -> tuple[float, float]:
    """How often two clauses collide: all 2k of their inputs in one child of a parent.

    Returns (the fraction of clause pairs that collide, averaged over the parents: what the
    collision law predicts per parent; the fraction of pairs that collide in at least one
    parent). Inputs are as in clause_integrity. NaN with fewer than two clauses.
    """
    child = np.atleast_2d(np.asarray(child))
    groups = context.clause_inputs()
    if len(groups) < 2:
        return float("nan"), float("nan")
    whole = np.stack([(child[:, g] == child[:, g[:1]]).all(axis=1) for g in groups], axis=1)
    label = np.stack([child[:, g[0]] for g in groups], axis=1).astype(np.int64)
    # pair (a, b) collides in parent p when both are whole there and share the label
    same = (label[:, :, None] == label[:, None, :]) & whole[:, :, None] & whole[:, None, :]
    upper = np.triu(np.ones((len(groups), len(groups)), dtype=bool), k=1)
    pairs = same[:, upper]  # (parents, pairs)
    return float(pairs.mean()), float(pairs.any(axis=0).mean())


# --- built-in splitters --------------------------------------------------------------------


def balanced_labels(n_inputs: int, alpha: int) -> np.ndarray:
    """Labels 0..alpha-1 in round robin: group sizes differ by at most one."""
    return (np.arange(n_inputs) % alpha).astype(np.int8)


class RandomSplitter:
    """A fresh balanced random partition for each parent (the paper's random split)."""

    name = "random"
    version = "1"
    shared = False

    def split(self, weight, alpha, context, rng):
        base = np.tile(balanced_labels(context.n_inputs, alpha), (len(weight), 1))
        return rng.permuted(base, axis=1)  # each row shuffled independently


class RandomSharedSplitter:
    """One balanced random partition, shared by all parents (block structure, cheaper)."""

    name = "random-shared"
    version = "1"
    shared = True

    def split(self, weight, alpha, context, rng):
        row = rng.permutation(balanced_labels(context.n_inputs, alpha))
        return np.tile(row, (len(weight), 1))


class ContiguousSplitter:
    """Fixed contiguous blocks of inputs, shared; uses no randomness.

    Block c is inputs floor(c*d/alpha) .. floor((c+1)*d/alpha)-1, so sizes differ by at most one.
    Under the 'literals' encoding the blocks follow input order (x then not x), not variables.
    """

    name = "contiguous"
    version = "1"
    shared = True

    def split(self, weight, alpha, context, rng):
        row = (np.arange(context.n_inputs) * alpha // context.n_inputs).astype(np.int8)
        return np.tile(row, (len(weight), 1))


for _splitter in (RandomSplitter(), RandomSharedSplitter(), ContiguousSplitter()):
    register_splitter(_splitter)

"""Balanced, disjoint train/test datasets of assignments drawn uniformly within each class."""

import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
import torch

import satbench
from satbench.atomic import atomic_path
from satbench.encoding import get_encoding
from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.generators.formula import Formula
from satbench.generators.random_formula import random_formula
from satbench.generators.sampling import sample_class
from satbench.memory import check_memory
from satbench.rng import numpy_rng
from satbench.specs import TaskSpec

METADATA_PREFIX = "satbench."
# Peak memory of building and writing a dataset, per row and per variable or clause: 5 to 8 bytes
# measured (n = 5,000 and 20,000 variables, 6,144 rows), so 8.
BYTES_PER_CELL = 8


def check_dataset_memory(spec: TaskSpec) -> None:
    """Refuse, before any work, a dataset that would need more memory than the machine has."""
    rows = spec.n_train + spec.n_test
    check_memory(rows * (spec.n_vars + spec.n_clauses) * BYTES_PER_CELL, "n_vars",
                 f"{rows} rows x {spec.n_vars} variables", "ask for fewer rows or variables")


def task_for_formula(formula: Formula, **dataset_fields) -> TaskSpec:
    """A TaskSpec for a user's own formula; its fingerprint pins the formula's content."""
    return TaskSpec(
        n_vars=formula.n_vars,
        n_clauses=formula.n_clauses,
        width=formula.width,
        form=formula.form,
        formula_fingerprint=formula.fingerprint,
        **dataset_fields,
    )


def formula_for_task(spec: TaskSpec, formula: Formula | None = None) -> Formula:
    """The task's formula: generated from its seed, or the user's, checked against the spec."""
    if spec.formula_fingerprint is None:
        if formula is not None:
            raise SatbenchError("formula: the task is generated from its seed; pass no formula")
        return random_formula(spec.n_vars, spec.n_clauses, spec.width, spec.form, spec.seed,
                              spec.planted, spec.support)
    if formula is None or formula.fingerprint != spec.formula_fingerprint:
        raise SatbenchError(
            f"formula: the task needs the formula with fingerprint {spec.formula_fingerprint}"
        )
    return formula


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train rows first, then test rows. assignments: (N, n_vars) bool, variable v in column v-1."""

    spec: TaskSpec
    formula: Formula
    assignments: np.ndarray
    labels: np.ndarray
    clause_values: np.ndarray
    sampling_methods: dict

    @property
    def n_train(self) -> int:
        return self.spec.n_train

    def split_rows(self, split: str) -> slice:
        if split == "train":
            return slice(0, self.n_train)
        if split == "test":
            return slice(self.n_train, len(self.assignments))
        raise SatbenchError(f"split: expected train or test, got {split!r}")

    @cached_property
    def fingerprint(self) -> str:
        document = {"kind": "Dataset", "task": self.spec.fingerprint,
                    "formula": self.formula.fingerprint}
        return sha256_of(document, self.assignments, self.labels, self.clause_values)

    def inputs(self, split: str) -> torch.Tensor:
        """Encoded network inputs (float32): pm1 in {-1,+1}^n, literals [x, not x] in {0,1}^2n."""
        encoding = get_encoding(self.spec.encoding)
        return torch.from_numpy(encoding.encode(self.assignments[self.split_rows(split)]))

    def targets(self, split: str) -> torch.Tensor:
        """(N, 1) formula values or (N, m) clause values, as float32."""
        rows = self.split_rows(split)
        if self.spec.target == "formula":
            return torch.from_numpy(self.labels[rows].astype(np.float32)).unsqueeze(1)
        return torch.from_numpy(self.clause_values[rows].astype(np.float32))

    def metadata(self) -> dict[str, str]:
        return {
            f"{METADATA_PREFIX}task_spec": json.dumps(self.spec.to_dict(), sort_keys=True),
            f"{METADATA_PREFIX}task_fingerprint": self.spec.fingerprint,
            f"{METADATA_PREFIX}dataset_fingerprint": self.fingerprint,
            f"{METADATA_PREFIX}formula_fingerprint": self.formula.fingerprint,
            f"{METADATA_PREFIX}sampling_methods": json.dumps(self.sampling_methods, sort_keys=True),
            f"{METADATA_PREFIX}version": satbench.__version__,
        }

    def to_frame(self) -> pl.DataFrame:
        split = np.where(np.arange(len(self.labels)) < self.n_train, "train", "test")
        return pl.DataFrame({
            "split": split,
            "assignment": pl.Series(self.assignments.astype(np.int8)).cast(pl.List(pl.Int8)),
            "label": self.labels.astype(np.int8),
            "clause_values": pl.Series(self.clause_values).cast(pl.List(pl.Boolean)),
        })

    def write_parquet(self, path) -> None:
        with atomic_path(path) as temp:
            self.to_frame().write_parquet(temp, metadata=self.metadata())


def build_dataset(spec: TaskSpec, formula: Formula | None = None) -> Dataset:
    """Draw a dataset: each class uniformly within itself, train and test disjoint.

    Each class is drawn once, without replacement, for train and test together and then cut, so no
    assignment lands in both splits.
    """
    check_dataset_memory(spec)
    formula = formula_for_task(spec, formula)
    rng = numpy_rng(spec.seed, "dataset", cell=spec.data_cell)  # satbench.rng
    positives = {"train": round(spec.positive_fraction * spec.n_train),
                 "test": round(spec.positive_fraction * spec.n_test)}
    in_train = {True: positives["train"], False: spec.n_train - positives["train"]}
    in_test = {True: positives["test"], False: spec.n_test - positives["test"]}
    samples, methods = {}, {}
    for value, name in ((True, "positive"), (False, "negative")):
        try:
            samples[value], methods[name] = sample_class(
                formula, value, in_train[value] + in_test[value], rng)
        except SatbenchError as error:
            raise SatbenchError(f"{name} class: {error}") from None
    train = np.concatenate([samples[v][: in_train[v]] for v in (True, False)])
    test = np.concatenate([samples[v][in_train[v]:] for v in (True, False)])
    assignments = np.concatenate([train[rng.permutation(len(train))],
                                  test[rng.permutation(len(test))]]).astype(bool)
    clause_values, labels = formula.evaluate(assignments)
    return Dataset(spec, formula, assignments, labels, clause_values, methods)

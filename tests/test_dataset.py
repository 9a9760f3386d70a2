"""Datasets: balanced, disjoint, labelled correctly, reproducible, and written with metadata."""

import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from satbench.encoding import ENCODINGS
from satbench.errors import SatbenchError
from satbench.generators.dataset import build_dataset, task_for_formula
from satbench.generators.dimacs import read_dimacs
from satbench.generators.formula import Formula
from satbench.specs import FORMS, TARGETS, TaskSpec


@st.composite
def small_specs(draw):
    n = draw(st.integers(6, 24))
    form = draw(st.sampled_from(FORMS))
    m = draw(st.integers(2, 3 * n))
    return TaskSpec(n_vars=n, n_clauses=m, width=3, form=form, planted=form == "cnf",
                    encoding=draw(st.sampled_from(tuple(ENCODINGS))),
                    target=draw(st.sampled_from(TARGETS)),
                    n_train=draw(st.integers(2, 40)), n_test=draw(st.integers(2, 20)),
                    positive_fraction=draw(st.sampled_from([0.5, 0.3])),
                    seed=draw(st.integers(0, 1000)))


def rows_as_set(array: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in np.packbits(array, axis=1)}


@given(small_specs())
@settings(max_examples=40, deadline=None)
def test_datasets_are_balanced_disjoint_and_correctly_labelled(spec):
    try:
        data = build_dataset(spec)
    except SatbenchError as error:  # a tiny class can be smaller than requested: say so, never hang
        assert "class" in str(error)
        return
    train, test = data.assignments[: spec.n_train], data.assignments[spec.n_train:]
    assert len(train) == spec.n_train and len(test) == spec.n_test
    assert not rows_as_set(train) & rows_as_set(test), "an assignment is in train and test"
    assert len(rows_as_set(data.assignments)) == len(data.assignments), "duplicate assignment"
    clause_values, labels = data.formula.evaluate(data.assignments)
    assert (labels == data.labels).all() and (clause_values == data.clause_values).all()
    assert data.labels[: spec.n_train].sum() == round(spec.positive_fraction * spec.n_train)
    assert data.labels[spec.n_train:].sum() == round(spec.positive_fraction * spec.n_test)
    x, y = data.inputs("train"), data.targets("train")
    assert x.shape == (spec.n_train, spec.n_inputs) and y.shape == (spec.n_train, spec.n_outputs)


def test_inputs_follow_the_encoding():
    spec = TaskSpec(n_vars=8, n_clauses=4, form="dnf", n_train=20, n_test=10)
    pm1 = build_dataset(spec)
    literals = build_dataset(spec.replace(encoding="literals"))
    x = pm1.assignments[:20].astype(np.float32)
    assert np.array_equal(pm1.inputs("train").numpy(), 2 * x - 1)
    assert np.array_equal(literals.inputs("train").numpy(), np.concatenate([x, 1 - x], axis=1))
    for name, encoding in ENCODINGS.items():  # every registered encoding, through the dataset
        data = build_dataset(spec.replace(encoding=name))
        assert data.inputs("train").shape == (20, encoding.n_inputs(8)) == (20, spec.replace(
            encoding=name).n_inputs)
        assert np.array_equal(data.inputs("train").numpy(), encoding.encode(x))


def test_same_spec_same_dataset_and_fingerprint_in_another_process():
    spec = TaskSpec(n_vars=30, n_clauses=12, form="dnf", n_train=200, n_test=100, seed=5)
    data = build_dataset(spec)
    assert build_dataset(spec).fingerprint == data.fingerprint
    assert build_dataset(spec.replace(seed=6)).fingerprint != data.fingerprint
    code = ("from satbench.specs import TaskSpec; from satbench.generators.dataset import "
            "build_dataset; print(build_dataset(TaskSpec(n_vars=30, n_clauses=12, form='dnf', "
            "n_train=200, n_test=100, seed=5)).fingerprint)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == data.fingerprint


def test_an_unsat_cnf_has_no_positive_class_and_says_so(satlib):
    formula = read_dimacs(satlib / "uuf50-01.cnf")
    with pytest.raises(SatbenchError, match="positive class"):
        build_dataset(task_for_formula(formula, n_train=10, n_test=10), formula)


def test_a_dataset_from_a_real_dimacs_file(satlib):
    formula = read_dimacs(satlib / "uf20-01.cnf")
    spec = task_for_formula(formula, n_train=6, n_test=2, positive_fraction=0.5)
    data = build_dataset(spec, formula)
    assert data.labels.sum() == 4 and data.sampling_methods["positive"] == "enumeration"
    other = Formula(formula.n_vars, formula.clauses[1:], "cnf")
    with pytest.raises(SatbenchError, match="fingerprint"):
        build_dataset(spec, other)


def test_parquet_has_the_documented_columns_and_metadata(tmp_path):
    spec = TaskSpec(n_vars=10, n_clauses=5, form="cnf", n_train=30, n_test=10, seed=2)
    data = build_dataset(spec)
    path = tmp_path / "data.parquet"
    data.write_parquet(path)
    frame = pl.read_parquet(path)
    assert frame.columns == ["split", "assignment", "label", "clause_values"]
    assert frame["split"].to_list() == ["train"] * 30 + ["test"] * 10
    assert frame.schema["assignment"] == pl.List(pl.Int8)
    assert frame.schema["clause_values"] == pl.List(pl.Boolean)
    assert np.array_equal(np.array(frame["assignment"].to_list()), data.assignments)
    metadata = pl.read_parquet_metadata(path)
    assert metadata["satbench.dataset_fingerprint"] == data.fingerprint
    assert metadata["satbench.task_fingerprint"] == spec.fingerprint
    assert TaskSpec.from_dict(json.loads(metadata["satbench.task_spec"])) == spec

"""The result-row schema: real runs' rows match it, and its document cannot drift from it."""

import math
from pathlib import Path

import polars as pl
import pytest

from satbench.methods import METHODS
from satbench.registry import BUILT_IN
from satbench.row_schema import columns, render_markdown
from satbench.runs import runs_for
from satbench.specs import TaskSpec, TrainingContext, column_of, spec_fields
from satbench.training.rows import train_and_evaluate

DOC = Path(__file__).resolve().parents[1] / "docs" / "results-schema.md"
ALL_METHODS = tuple(name for name in METHODS.names() if METHODS.origin(name) == BUILT_IN)


TASK = TaskSpec(n_vars=8, n_clauses=4, form="dnf", n_train=64, n_test=32)


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    context = TrainingContext(TASK, neurons=2, warmup_steps=3, expanded_steps=3)
    return train_and_evaluate(runs_for(context, ALL_METHODS))


def params_columns(method: str) -> set[str]:
    return {column_of(f) for f in spec_fields(METHODS.get(method).params)}


def expected_columns(method: str) -> list[str]:
    """columns() without the params columns of other methods that this method does not take."""
    others = set().union(*(params_columns(m) for m in METHODS.names())) - params_columns(method)
    return [column.name for column in columns() if column.name not in others]


def test_every_method_writes_exactly_its_schema_columns_in_order(rows):
    assert [row["method"] for row in rows] == list(ALL_METHODS)
    for row in rows:
        assert list(row) == expected_columns(row["method"]), row["method"]
    assert {"alpha", "split", "output_scale"} <= set(expected_columns("fpe"))
    assert "alpha" in expected_columns("wide_dense")
    assert not {"alpha", "split", "output_scale"} & set(expected_columns("dense"))


def test_rows_have_the_schema_dtypes(rows):
    dtypes = {column.name: column.dtype for column in columns()}
    for row in rows:
        frame = pl.DataFrame([row], infer_schema_length=None)
        for name, dtype in frame.schema.items():
            if row[name] is None:  # an unset optional field (formula_fingerprint): no dtype
                assert dtype == pl.Null, name
            else:
                assert dtype == dtypes[name], (row["method"], name)


def test_clause_integrity_is_set_exactly_for_the_methods_that_split(rows):
    split = {row["method"] for row in rows if not math.isnan(row["clause_integrity"])}
    assert split == {"fpe", "sparse_scratch", "fpe_overlap"}


def test_each_method_matches_dense_on_the_budget_it_names(rows):
    dense = next(row for row in rows if row["method"] == "dense")
    for row in rows:
        budget = row["budget"]
        if budget == "nnz_weights" or budget == "trainable_parameters":
            assert row[budget] == dense[budget], row["method"]
        elif budget == "macs_per_example":  # tree_cc: its gates paid for with hidden units
            assert row[budget] <= dense[budget], row["method"]
        else:  # tree_cc at h=2 cannot pay for 3 gates: a reference, and its row says so
            assert budget == "none" and row["method"] in {"dense", "wide_dense", "tree_dense",
                                                          "tree_cc"}
        # a forward pass touches every weight, except in the tree, which holds more than it uses
        more_than_used = row["method"] == "tree_cc"
        assert (row["macs_per_example"] < row["nnz_weights"]) == more_than_used, row["method"]
        assert row["trainable_parameters"] >= row["nnz_weights"], row["method"]


def test_a_method_s_own_columns_are_null_in_the_others_rows(rows):
    owners = {"classifier_scale": "fixed_classifier", "leaf_entropy": "tree_cc"}
    for row in rows:
        for column, owner in owners.items():
            assert (row[column] is not None) == (row["method"] == owner), (row["method"], column)
        # seed 0: bimt stores its graph
        assert (row["connection_graph"] is not None) == (row["method"] == "bimt")


def test_the_document_is_the_rendered_schema():
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/results-schema.md is stale: python -m satbench.row_schema > docs/results-schema.md")


def test_every_column_is_named_once_and_described():
    names = [column.name for column in columns()]
    assert len(set(names)) == len(names)
    for column in columns():
        assert column.meaning.strip(), column.name

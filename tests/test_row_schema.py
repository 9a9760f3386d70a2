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


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    task = TaskSpec(n_vars=8, n_clauses=4, form="dnf", n_train=64, n_test=32)
    context = TrainingContext(task, neurons=2, warmup_steps=3, expanded_steps=3)
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


def test_clause_integrity_is_nan_exactly_for_the_methods_that_are_not_split(rows):
    unsplit = {row["method"] for row in rows if math.isnan(row["clause_integrity"])}
    assert unsplit == {"dense", "dense_reset", "wide_dense", "dropconnect"}


def test_the_document_is_the_rendered_schema():
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/results-schema.md is stale: python -m satbench.row_schema > docs/results-schema.md")


def test_every_column_is_named_once_and_described():
    names = [column.name for column in columns()]
    assert len(set(names)) == len(names)
    for column in columns():
        assert column.meaning.strip(), column.name

"""The result-row schema: a real run's rows match it, and its document cannot drift from it."""

import math
from pathlib import Path

import polars as pl
import pytest

from satbench.experiment import run_experiment
from satbench.row_schema import COLUMNS, SCHEMA, render_markdown
from satbench.specs import ARMS, RunSpec, TaskSpec

DOC = Path(__file__).resolve().parents[1] / "docs" / "results-schema.md"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    task = TaskSpec(n_vars=8, n_clauses=4, form="dnf", n_train=64, n_test=32)
    return run_experiment(RunSpec(task, neurons=2, warmup_steps=3, expanded_steps=3, arms=ARMS))


def test_every_arm_writes_exactly_the_schema_columns_in_order(rows):
    assert sorted(row["method"] for row in rows) == sorted(ARMS)
    for row in rows:
        assert list(row) == list(SCHEMA), row["method"]


def test_rows_have_the_schema_dtypes(rows):
    assert pl.DataFrame(rows).schema == SCHEMA


def test_clause_integrity_is_nan_exactly_for_the_arms_that_are_not_split(rows):
    unsplit = {row["method"] for row in rows if math.isnan(row["clause_integrity"])}
    assert unsplit == {"dense", "dense_reset", "wide_dense"}


def test_the_document_is_the_rendered_schema():
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/results-schema.md is stale: python -m satbench.row_schema > docs/results-schema.md")


def test_every_column_is_named_once_and_described():
    names = [column.name for column in COLUMNS]
    assert len(set(names)) == len(names)
    for column in COLUMNS:
        assert column.meaning.strip(), column.name

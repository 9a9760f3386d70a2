"""TaskSpec validation and fingerprints."""

import dataclasses
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from satbench.errors import SatbenchError
from satbench.specs import TaskSpec

BASE = TaskSpec(n_vars=16, n_clauses=8, width=3, form="dnf", n_train=100, n_test=50)

CHANGES = {
    "n_vars": 17, "n_clauses": 9, "width": 2, "form": "cnf", "planted": True,
    "encoding": "literals", "target": "clauses", "n_train": 101, "n_test": 51,
    "positive_fraction": 0.25, "seed": 1, "formula_fingerprint": "0" * 64,
}


def test_every_field_is_covered_by_the_change_table():
    assert set(CHANGES) == {f.name for f in dataclasses.fields(TaskSpec)}


@given(st.lists(st.sampled_from(sorted(CHANGES)), min_size=1, unique=True))
@settings(max_examples=60, deadline=None)
def test_any_change_to_the_spec_changes_its_fingerprint(fields):
    changes = {f: CHANGES[f] for f in fields}
    if changes.get("planted") and changes.get("form", BASE.form) != "cnf":
        changes["form"] = "cnf"
    assert BASE.replace(**changes).fingerprint != BASE.fingerprint


def test_the_fingerprint_is_the_same_in_another_process():
    code = ("from satbench.specs import TaskSpec; print(TaskSpec(n_vars=16, n_clauses=8, "
            "width=3, form='dnf', n_train=100, n_test=50).fingerprint)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == BASE.fingerprint


def test_round_trip_through_a_dict():
    assert TaskSpec.from_dict(BASE.to_dict()) == BASE
    with pytest.raises(SatbenchError, match="unknown fields bogus"):
        TaskSpec.from_dict({**BASE.to_dict(), "bogus": 1})


@pytest.mark.parametrize("changes, message", [
    ({"encoding": "onehot"}, "encoding: expected one of pm1, literals"),
    ({"target": "sat"}, "target: expected one of formula, clauses"),
    ({"n_train": 0}, "n_train: expected an integer >= 1"),
    ({"positive_fraction": 1.5}, "positive_fraction"),
    ({"width": 20}, "width: 20 is larger"),
    ({"n_clauses": 10**9}, "clauses: 1000000000 requested"),
    ({"n_vars": 4, "n_train": 10, "n_test": 10}, "only 16 distinct assignments"),
    ({"seed": -1}, "seed"),
])
def test_invalid_specs_name_the_field(changes, message):
    with pytest.raises(SatbenchError, match=message):
        BASE.replace(**changes)

"""Encodings: input counts, input variables, encoded inputs and literal directions, by hand."""

import numpy as np
import pytest
import torch

from satbench.encoding import ENCODINGS, Encoding, get_encoding
from satbench.errors import SatbenchError
from satbench.generators.dataset import build_dataset
from satbench.generators.formula import Formula
from satbench.metrics.capacity import clause_directions
from satbench.models.splitters import input_variables
from satbench.specs import TaskSpec

ASSIGNMENTS = np.array([[True, False, True], [False, False, True]])


def test_registry_is_ordered_and_named():
    assert list(ENCODINGS) == ["pm1", "literals"]
    for name, encoding in ENCODINGS.items():
        assert isinstance(encoding, Encoding)
        assert encoding.name == name and get_encoding(name) is encoding
        assert encoding.description.startswith(f"{name}: ")
    assert "; ".join(e.description for e in ENCODINGS.values()) == (
        "pm1: n inputs in {-1,+1}; literals: 2n inputs in {0,1}")


def test_pm1_by_hand():
    pm1 = get_encoding("pm1")
    assert pm1.n_inputs(3) == 3
    np.testing.assert_array_equal(pm1.input_variables(3), [0, 1, 2])
    x = pm1.encode(ASSIGNMENTS)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, [[1, -1, 1], [-1, -1, 1]])
    np.testing.assert_array_equal(pm1.encode(ASSIGNMENTS.astype(np.int8)), x)
    assert pm1.literal_input(2, 3) == (1, 1.0)
    assert pm1.literal_input(-3, 3) == (2, -1.0)


def test_literals_by_hand():
    literals = get_encoding("literals")
    assert literals.n_inputs(3) == 6
    np.testing.assert_array_equal(literals.input_variables(3), [0, 1, 2, 0, 1, 2])
    x = literals.encode(ASSIGNMENTS)
    assert x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_array_equal(x, [[1, 0, 1, 0, 1, 0], [0, 0, 1, 1, 1, 0]])
    assert literals.literal_input(2, 3) == (1, 1.0)
    assert literals.literal_input(-3, 3) == (5, 1.0)


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_every_encoding_is_consistent(name):
    encoding = get_encoding(name)
    for n in (0, 1, 5):
        variables = encoding.input_variables(n)
        assert variables.shape == (encoding.n_inputs(n),)
        assert encoding.encode(np.zeros((2, n), dtype=bool)).shape == (2, encoding.n_inputs(n))
        # Each literal's input reads the literal's own variable.
        for literal in [*range(1, n + 1), *range(-n, 0)]:
            index, _ = encoding.literal_input(literal, n)
            assert variables[index] == abs(literal) - 1
    with pytest.raises(ValueError, match="assignments"):
        encoding.encode(np.zeros(3, dtype=bool))


def test_encodings_are_immutable():
    with pytest.raises(AttributeError):
        get_encoding("pm1").name = "other"


@pytest.mark.parametrize("name", ["onehot", "PM1", "", None])
def test_unknown_encoding_is_a_user_error(name):
    message = f"encoding: expected one of pm1, literals, got {name!r}"
    with pytest.raises(SatbenchError) as error:
        get_encoding(name)
    assert str(error.value) == message
    with pytest.raises(SatbenchError, match="encoding: expected one of pm1, literals"):
        input_variables(3, name)


def test_splitters_input_variables_delegates():
    np.testing.assert_array_equal(input_variables(4, "pm1"), np.arange(4))
    np.testing.assert_array_equal(input_variables(4, "literals"), [0, 1, 2, 3, 0, 1, 2, 3])


def test_dataset_inputs_match_the_old_formula():
    spec = TaskSpec(n_vars=8, n_clauses=4, form="dnf", n_train=20, n_test=10)
    for name in ENCODINGS:
        data = build_dataset(spec.replace(encoding=name))
        for split in ("train", "test"):
            x = torch.from_numpy(data.assignments[data.split_rows(split)].astype(np.float32))
            old = 2.0 * x - 1.0 if name == "pm1" else torch.cat([x, 1.0 - x], dim=1)
            new = data.inputs(split)
            assert new.dtype == torch.float32 and new.shape == old.shape
            assert torch.equal(new, old)


def test_clause_directions_by_hand():
    formula = Formula(3, ((1, -3), (-2, 3), (1, 1), (2, -2)), "cnf")
    np.testing.assert_array_equal(
        clause_directions(formula, "pm1"), [[1, 0, -1], [0, -1, 1], [2, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(
        clause_directions(formula, "literals"),
        [[1, 0, 0, 0, 0, 1], [0, 0, 1, 0, 1, 0], [2, 0, 0, 0, 0, 0], [0, 1, 0, 0, 1, 0]])

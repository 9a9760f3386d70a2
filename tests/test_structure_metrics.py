"""mask_clause_integrity and modularity: the structure columns every row carries since 0.5."""

import math

import numpy as np
import pytest

from satbench.generators.formula import Formula
from satbench.metrics import mask_clause_integrity, modularity

# Read-once clauses over 6 variables: {x1, x2, x3} and {x4, x5, x6}.
FORMULA = Formula(6, ((1, -2, 3), (4, 5, -6)), "dnf")


def test_units_that_read_clauses_whole_score_one():
    w = np.zeros((2, 6))
    w[0, :3], w[1, 3:] = 1.0, -2.0
    assert mask_clause_integrity(w, FORMULA, "pm1") == 1.0


def test_integrity_counts_the_touched_pairs_read_whole():
    w = np.zeros((3, 6))
    w[0, :3] = 1.0  # clause 0 whole
    w[1, [0, 3]] = 1.0  # a part of each clause: 2 cut pairs
    w[2, 3:] = 1.0  # clause 1 whole
    assert mask_clause_integrity(w, FORMULA, "pm1") == pytest.approx(2 / 4)


def test_literal_inputs_belong_to_their_variable():
    # literals encoding: inputs 0..5 are x1..x6, 6..11 their negations; a clause's inputs are
    # both literal inputs of each of its variables, as in the splitter metric
    w = np.zeros((1, 12))
    w[0, [0, 1, 2]] = 1.0
    assert mask_clause_integrity(w, FORMULA, "literals") == 0.0
    w[0, [6, 7, 8]] = 1.0
    assert mask_clause_integrity(w, FORMULA, "literals") == 1.0


def test_integrity_is_nan_for_a_dense_layer_or_no_formula():
    assert math.isnan(mask_clause_integrity(np.ones((4, 6)), FORMULA, "pm1"))
    assert math.isnan(mask_clause_integrity(np.eye(6)[:2], Formula(6, (), "dnf"), "pm1"))


def test_separate_modules_are_more_modular_than_a_dense_layer():
    blocks = np.kron(np.eye(4), np.ones((2, 8)))  # 4 disconnected modules
    dense = np.random.default_rng(0).normal(size=(8, 32))
    assert modularity(blocks) == pytest.approx(0.75)  # 1 - 1/4 for 4 equal modules
    assert modularity(dense) < 0.3


def test_modularity_is_deterministic_and_sign_blind():
    w = np.random.default_rng(1).normal(size=(16, 24)) * (np.random.default_rng(2).random(
        (16, 24)) < 0.3)
    assert modularity(w) == modularity(w.copy()) == modularity(-w)
    assert math.isnan(modularity(np.zeros((3, 4))))


def test_units_that_read_every_input_do_not_count():
    w = np.ones((3, 6))
    w[2, [0, 3]] = 0.0  # one sparse unit, which cuts both clauses
    assert mask_clause_integrity(w, FORMULA, "pm1") == 0.0

"""Feature capacity (Scherlis et al. 2022), clause directions in input space, and the Gram matrix.

W1 is a first-layer weight of shape (h, d): row k is neuron k's input weights, column i is input
feature i's embedding in the h-dimensional hidden space. Pruned weights are zeros.
"""

import numpy as np

from satbench.encoding import get_encoding
from satbench.generators.formula import Formula
from satbench.metrics._arrays import as_weight_matrix, unit_rows


def gram(W1) -> np.ndarray:
    """The (d, d) Gram matrix W1^T W1 of the input features' embeddings: G_ij = W_i . W_j."""
    w = as_weight_matrix(W1)
    return w.T @ w


def _column_capacity(w: np.ndarray) -> np.ndarray:
    """Capacity of each column of w (float64, finite); see feature_capacity."""
    scale = np.max(np.abs(w)) if w.size else 0.0
    if scale == 0:
        return np.zeros(w.shape[1])
    # Capacity is invariant to scaling w, so rescale to keep the fourth powers in range. Then
    # C_i = (u_i . W_i)^2 / sum_j (u_i . W_j)^2 with u_i the unit vector along W_i: the same
    # value as (W_i . W_i)^2 / sum_j (W_i . W_j)^2, but the numerator is one of the
    # denominator's terms, so C_i <= 1 holds in floating point too.
    cols = (w / scale).T
    unit, norms = unit_rows(cols)
    projections = unit @ cols.T  # [i, j] = u_i . W_j
    numerator = np.diagonal(projections) ** 2
    denominator = np.sum(projections**2, axis=1)
    live = (norms > 0) & (denominator > 0)
    return np.where(live, numerator / np.where(live, denominator, 1.0), 0.0)


def feature_capacity(W1) -> np.ndarray:
    """Per-feature capacity C_i = (W_i . W_i)^2 / sum_j (W_i . W_j)^2, shape (d,).

    W_i is column i of W1 (input feature i's embedding in hidden space); the sum runs over all
    features j, i included (Scherlis et al. 2022, "Polysemanticity and capacity in neural
    networks"). C_i lies in [0, 1]: 1 when feature i is orthogonal to every other feature (it
    has a dimension to itself), 1/k when k features share one direction. The total over features
    is at most the rank of W1, so at most min(h, d). A zero column (a feature every weight of
    which was pruned, or never learned) is defined to have capacity 0: it is not represented,
    and it adds nothing to the other features' denominators. C_i is invariant to scaling W1 and
    to any orthogonal transform of the hidden space, permuting neurons included.
    """
    return _column_capacity(as_weight_matrix(W1))


def capacity_total(W1) -> float:
    """Sum of the feature capacities: the number of dimensions the features effectively use."""
    return float(np.sum(feature_capacity(W1)))


def clause_directions(formula: Formula, encoding: str, n_inputs: int | None = None) -> np.ndarray:
    """Each clause's direction in input space, shape (m, d): the signed sum of its literals.

    pm1 (d = n, input v-1 is variable v in {-1,+1}): literal +v adds +e_{v-1}, literal -v adds
    -e_{v-1}, so the direction points at the assignment that makes every literal true.
    literals (d = 2n, inputs [x, not x] in {0,1}): literal +v adds +e_{v-1}, literal -v adds
    +e_{n+v-1} (the one-hot input of NOT x_v).
    The form is ignored: a DNF term and a CNF clause with the same literals share a direction
    (a CNF violation detector points along -d in pm1; capacity and squared cosines ignore the
    sign). A literal repeated in a clause counts twice; in pm1, x and NOT x in one clause cancel.
    n_inputs, when given, must match the encoding's input count.
    """
    enc = get_encoding(encoding)  # SatbenchError (a ValueError) for an unknown name
    d = enc.n_inputs(formula.n_vars)
    if n_inputs is not None and n_inputs != d:
        raise ValueError(
            f"n_inputs: the {encoding} encoding of {formula.n_vars} variables has {d} inputs, "
            f"got {n_inputs}"
        )
    n = formula.n_vars
    directions = np.zeros((formula.n_clauses, d))
    for row, clause in enumerate(formula.clauses):
        for literal in clause:
            index, sign = enc.literal_input(literal, n)
            directions[row, index] += sign
    return directions


def clause_embeddings(W1, formula: Formula, encoding: str) -> np.ndarray:
    """The clauses' hidden-space embeddings U = W1 @ D^T, shape (h, m): column j is W1 d_j."""
    w = as_weight_matrix(W1)
    return w @ clause_directions(formula, encoding, w.shape[1]).T


def clause_capacity(W1, formula: Formula, encoding: str) -> np.ndarray:
    """Per-clause capacity, shape (m,): feature_capacity's formula applied to the columns of
    U = W1 @ D^T, i.e. to the clauses (not the single inputs) as features. A clause whose
    embedding is zero has capacity 0."""
    return _column_capacity(clause_embeddings(W1, formula, encoding))

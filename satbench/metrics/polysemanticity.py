"""Polysemanticity: how many clauses each hidden neuron responds to, measured on data."""

import numpy as np

from satbench.metrics._arrays import as_bias, as_float64, as_weight_matrix

DEFAULT_THRESHOLD = 0.5


def hidden_activations(W1, b1, inputs) -> np.ndarray:
    """ReLU(inputs @ W1^T + b1), shape (N, h); inputs are encoded network inputs (N, d)."""
    w = as_weight_matrix(W1)
    x = as_float64(inputs, "inputs", ndim=2)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"inputs: expected {w.shape[1]} columns (W1's inputs), got {x.shape[1]}")
    return np.maximum(x @ w.T + as_bias(b1, w.shape[0]), 0.0)


def polysemanticity(
    W1, b1, assignments_inputs, clause_values, threshold: float = DEFAULT_THRESHOLD
) -> np.ndarray:
    """The number of clauses each neuron responds to, shape (h,) of int64.

    With a_i(x) = ReLU(W1 x + b1)_i on the N samples x of assignments_inputs (encoded inputs,
    (N, d)) and clause_values (N, m) each clause's truth value on them, neuron i responds to
    clause j when

        | mean(a_i | clause j true) - mean(a_i | clause j false) | > threshold * std(a_i)

    with std(a_i) the neuron's activation standard deviation over all N samples (ddof 0).
    The left side is how far the clause's truth value moves the neuron; scaling by the std makes
    it an effect size, unchanged by scaling a neuron's weights and bias, comparable between
    neurons. The difference is taken in absolute value: a CNF network detects clauses that are
    violated (the neuron fires when clause j is false), a DNF network terms that are satisfied,
    and both are responses to the clause.

    Default threshold 0.5 (a "medium" effect, in the sense of Cohen's d): a neuron that detects
    exactly one width-3 term (fires only when it is true, p = 1/8 under uniform sampling) scores
    1 / sqrt(p (1 - p)) ~ 3.0; one that merely reads a single shared variable scores ~ 1.1 for
    each clause holding it; one unrelated to the clause scores ~ 0 plus sampling noise (about
    0.07 at N = 2048, p = 1/8), so 0.5 separates responses from chance with a wide margin.
    A dead neuron (constant activation on the data, std 0) responds to no clause; a clause that
    is constant on the data (never, or always, true) has no contrast and no neuron responds to it.
    """
    if not threshold >= 0:
        raise ValueError(f"threshold: expected a number >= 0, got {threshold!r}")
    act = hidden_activations(W1, b1, assignments_inputs)
    truth = as_float64(clause_values, "clause_values", ndim=2) != 0
    if truth.shape[0] != act.shape[0]:
        raise ValueError(
            f"clause_values: expected {act.shape[0]} rows (one per input sample), "
            f"got {truth.shape[0]}"
        )
    n_true = truth.sum(axis=0)
    n_false = truth.shape[0] - n_true
    sum_true = act.T @ truth.astype(np.float64)  # (h, m)
    sum_false = act.sum(axis=0)[:, None] - sum_true
    contrast = (n_true > 0) & (n_false > 0)
    mean_true = sum_true / np.maximum(n_true, 1)
    mean_false = sum_false / np.maximum(n_false, 1)
    std = act.std(axis=0)
    responds = (np.abs(mean_true - mean_false) > threshold * std[:, None]) & contrast
    responds &= (std > 0)[:, None]
    return responds.sum(axis=1).astype(np.int64)


def mean_polysemanticity(
    W1,
    b1,
    assignments_inputs,
    clause_values,
    threshold: float = DEFAULT_THRESHOLD,
    include_dead: bool = False,
) -> float:
    """Mean of polysemanticity over the live neurons (activation not constant on the data).

    Dead neurons are left out by default, so pruning or splitting that kills neurons does not
    pull the mean down; include_dead=True averages over all h neurons. NaN when no neuron is
    live (and include_dead is False).
    """
    counts = polysemanticity(W1, b1, assignments_inputs, clause_values, threshold)
    if include_dead:
        return float(np.mean(counts))
    live = hidden_activations(W1, b1, assignments_inputs).std(axis=0) > 0
    return float(np.mean(counts[live])) if np.any(live) else float("nan")

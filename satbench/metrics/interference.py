"""Interference: cosines between neurons, and between the clauses' hidden-space embeddings."""

import numpy as np

from satbench.generators.formula import Formula
from satbench.metrics._arrays import as_weight_matrix, unit_rows
from satbench.metrics.capacity import clause_embeddings


def _mean_upper(values: np.ndarray, keep: np.ndarray) -> float:
    """Mean of values[i, j] over i < j where keep[i, j]; NaN when no pair is kept."""
    upper = np.triu(keep, k=1)
    return float(np.mean(values[upper])) if np.any(upper) else float("nan")


def mean_abs_cos(W1) -> dict[str, float]:
    """Mean |cosine| between neuron weight vectors (rows of W1), over two sets of pairs.

    Only non-zero neurons (rows) count; a fully pruned neuron has no direction.
    - all_pairs: mean |cos(w_a, w_b)| over all unordered pairs a < b of non-zero neurons;
    - shared_inputs: the same mean over the pairs whose supports (sets of inputs with a non-zero
      weight) intersect.
    Either is NaN when it has no pair to average.

    Why both: FPE splits a parent's inputs into disjoint subsets, so two siblings have disjoint
    supports and their cosine is exactly 0 by construction. Each split adds such pairs, and the
    all-pairs mean falls even if neurons that read the same inputs grow more aligned (the pilot
    saw 0.33-0.38 over shared-input pairs after FPE against 0.16 for the dense model). A lower
    all-pairs figure alone flatters FPE; the shared-input figure measures interference only
    where it can arise. For a dense W1 both agree. Both are invariant to scaling W1 and to
    permuting neurons.
    """
    w = as_weight_matrix(W1)
    unit, norms = unit_rows(w)
    live = norms > 0
    unit, support = unit[live], w[live] != 0
    abs_cos = np.abs(unit @ unit.T)
    shared = (support.astype(np.float64) @ support.T.astype(np.float64)) > 0
    everything = np.ones_like(shared)
    return {"all_pairs": _mean_upper(abs_cos, everything),
            "shared_inputs": _mean_upper(abs_cos, shared)}


def clause_interference(W1, formula: Formula, encoding: str) -> float:
    """Mean squared cosine between the clauses' hidden-space embeddings.

    Clause j's embedding is u_j = W1 d_j, with d_j its direction in input space (the signed sum
    of its literals' one-hot inputs; see clause_directions). The interference is the mean of
    cos^2(u_j, u_l) over ordered pairs j != l of clauses with a non-zero embedding (the same as
    over unordered pairs). 0 means the network embeds the clauses orthogonally, so reading one
    clause out along its own direction picks up nothing of the others; 1 means they all share
    one direction. Squaring ignores the sign, so a CNF neuron that detects a violated clause
    (weights along -d_j) counts like one that detects a satisfied DNF term. Clauses whose
    embedding is zero are not represented and are left out; NaN when fewer than two remain.
    Invariant to scaling W1 and to permuting neurons. Random directions in h dimensions give
    about 1/h.
    """
    unit, norms = unit_rows(clause_embeddings(W1, formula, encoding).T)
    unit = unit[norms > 0]
    squared = (unit @ unit.T) ** 2
    return _mean_upper(squared, np.ones_like(squared, dtype=bool))

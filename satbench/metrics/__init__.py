"""Metrics: pure functions of weights (numpy arrays or torch tensors) and data, in float64.

W1 is a first-layer weight of shape (h, d), rows neurons and columns input features, already
masked (zeros where pruned).
"""

from satbench.metrics.accuracy import (
    accuracy,
    balanced_accuracy,
    bce_loss,
    exact_match_accuracy,
)
from satbench.metrics.capacity import (
    capacity_total,
    clause_capacity,
    clause_directions,
    clause_embeddings,
    feature_capacity,
    gram,
)
from satbench.metrics.interference import clause_interference, mean_abs_cos
from satbench.metrics.modularity import mask_clause_integrity, modularity, structure_summary
from satbench.metrics.polysemanticity import (
    DEFAULT_THRESHOLD,
    hidden_activations,
    mean_polysemanticity,
    polysemanticity,
)
from satbench.metrics.summary import interference_summary

__all__ = [
    "DEFAULT_THRESHOLD",
    "accuracy",
    "balanced_accuracy",
    "bce_loss",
    "exact_match_accuracy",
    "mask_clause_integrity",
    "modularity",
    "structure_summary",
    "capacity_total",
    "clause_capacity",
    "clause_directions",
    "clause_embeddings",
    "clause_interference",
    "feature_capacity",
    "gram",
    "hidden_activations",
    "interference_summary",
    "mean_abs_cos",
    "mean_polysemanticity",
    "polysemanticity",
]

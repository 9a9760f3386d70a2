"""One call that gives a trained network's interference metrics as a flat results-row dict."""

from satbench.generators.formula import Formula
from satbench.metrics.capacity import capacity_total, clause_capacity
from satbench.metrics.interference import clause_interference, mean_abs_cos
from satbench.metrics.polysemanticity import DEFAULT_THRESHOLD, mean_polysemanticity


def interference_summary(
    W1,
    b1,
    formula: Formula,
    encoding: str,
    inputs,
    clause_values,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, float]:
    """Flat metrics for a results row (all floats; NaN where a metric has nothing to average).

    capacity_total: sum of input-feature capacities (feature_capacity);
    capacity_clause_total: sum of clause capacities (clause_capacity);
    mean_abs_cos / mean_abs_cos_shared_inputs: mean_abs_cos's all_pairs / shared_inputs;
    clause_interference: mean squared cosine between clause embeddings;
    polysemanticity_mean: mean clauses per live neuron on (inputs, clause_values).
    """
    cosines = mean_abs_cos(W1)
    return {
        "capacity_total": capacity_total(W1),
        "capacity_clause_total": float(clause_capacity(W1, formula, encoding).sum()),
        "mean_abs_cos": cosines["all_pairs"],
        "mean_abs_cos_shared_inputs": cosines["shared_inputs"],
        "clause_interference": clause_interference(W1, formula, encoding),
        "polysemanticity_mean": mean_polysemanticity(W1, b1, inputs, clause_values, threshold),
    }

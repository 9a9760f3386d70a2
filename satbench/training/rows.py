"""One flat result row per trained run: its identity, every spec field, metrics, fingerprints and
provenance. The spec columns are generated from the spec fields (satbench.specs.column_of), so a
new field, or a plugin method's params, reach the rows without being named here.
"""

import math

import numpy as np
import torch

from satbench.errors import SatbenchError
from satbench.metrics import (
    accuracy,
    balanced_accuracy,
    bce_loss,
    exact_match_accuracy,
    gram,
    interference_summary,
    structure_summary,
)
from satbench.provenance import provenance
from satbench.row_schema import METHOD_OUTCOMES
from satbench.specs import column_of, spec_fields
from satbench.threads import training_threads
from satbench.training.single import Trained, train_runs


def spec_columns(spec) -> dict:
    """{row column: value} for every value field of a spec (nested specs excluded)."""
    return {column_of(f): getattr(spec, f.name) for f in spec_fields(type(spec))}


def run_columns(run) -> dict:
    """The columns that say what ran: keys, method, its params, the context and the task."""
    method = run.trainer
    return {"run_key": run.key, "context_key": run.run_key, "method": run.method,
            "method_params": ",".join(spec_columns(run.params)),
            "budget": method.budget_for(run.params, run.context),
            "compare_with": ",".join(method.compare_with),
            **spec_columns(run.params), **spec_columns(run.context),
            **spec_columns(run.context.task)}


# The first-layer metrics (first_layer_metrics' keys): NaN in a diverged run's row, whose weights
# have none.
FIRST_LAYER_METRICS = ("capacity_total", "capacity_clause_total", "mean_abs_cos",
                       "mean_abs_cos_shared_inputs", "clause_interference", "polysemanticity_mean",
                       "mask_clause_integrity", "modularity")
CONVERGED_DROP = 0.01  # a relative fall in train loss over the last tenth of the steps


def convergence(late, inputs, targets, final_loss: float) -> dict:
    """The train loss when the last tenth of the steps began, its relative fall since, and
    whether that fall is under CONVERGED_DROP (None when no such model was kept)."""
    if late is None:
        return {"train_loss_late": math.nan, "train_loss_drop_late": math.nan, "converged": None}
    with torch.no_grad():
        before = bce_loss(late.eval()(inputs), targets)
    drop = (before - final_loss) / before if before > 0 else 0.0
    return {"train_loss_late": before, "train_loss_drop_late": drop,
            "converged": bool(drop < CONVERGED_DROP)}


def first_layer_metrics(model, dataset, encoding: str) -> tuple[dict, np.ndarray]:
    """The interference and structure columns of the model's first layer on the test split, and
    that layer's Gram matrix. A model whose first layer depends on the input (tree_cc: one matrix
    per leaf) gives each metric averaged over its groups weighted by their test rows (NaN ones
    left out), and the Gram matrix of its most used group."""
    test_rows = dataset.split_rows("test")
    inputs, clause_values = dataset.inputs("test"), dataset.clause_values[test_rows]
    groups = []
    for rows, w1, b1 in model.first_layers(inputs):
        part = slice(None) if rows is None else rows.numpy()
        metrics = {**interference_summary(w1, b1, dataset.formula, encoding, inputs[part],
                                          clause_values[part]),
                   **structure_summary(w1, dataset.formula, encoding)}
        groups.append((len(inputs) if rows is None else len(rows), metrics, w1))
    if len(groups) == 1:  # every row sees one layer: its metrics as they are
        return groups[0][1], gram(groups[0][2])
    weights = np.array([count for count, _, _ in groups], dtype=float)
    averaged = {}
    for name in groups[0][1]:
        values = np.array([metrics[name] for _, metrics, _ in groups])
        known = ~np.isnan(values)
        averaged[name] = (float(np.average(values[known], weights=weights[known]))
                          if known.any() else math.nan)
    return averaged, gram(max(groups, key=lambda group: group[0])[2])


@training_threads()
def evaluate(trained: Trained, dataset) -> dict:
    run, model = trained.run, trained.model.eval()
    task = run.context.task
    inputs = {split: dataset.inputs(split) for split in ("train", "test")}
    with torch.no_grad():
        logits = {split: model(inputs[split]) for split in ("train", "test")}
    targets = {split: dataset.targets(split) for split in ("train", "test")}
    # A run whose weights overflowed (a learning rate far too large) is stored as diverged, with
    # its accuracies and losses as they are and no first-layer metrics: it is a result, not a
    # crash that throws the other runs' training away.
    diverged = not all(bool(torch.isfinite(p).all()) for p in model.parameters())
    layer, layer_gram = ((dict.fromkeys(FIRST_LAYER_METRICS, math.nan), None) if diverged
                         else first_layer_metrics(model, dataset, task.encoding))
    test_rows = dataset.split_rows("test")
    own = run.trainer.outcomes(model, run.params, run.context, dataset)
    unknown = sorted(set(own) - set(METHOD_OUTCOMES))
    if unknown:
        raise SatbenchError(f"method {run.method!r}: outcomes() gave {', '.join(unknown)}; a row "
                            f"has only {', '.join(METHOD_OUTCOMES)}")
    positive_share = float(dataset.labels[test_rows].mean())
    train_loss = bce_loss(logits["train"], targets["train"])
    return {
        **run_columns(run),
        "width_hidden": model.width,
        "layer_format": trained.layer_format,
        "test_accuracy": accuracy(logits["test"], targets["test"]),
        "train_accuracy": accuracy(logits["train"], targets["train"]),
        "test_balanced_accuracy": balanced_accuracy(logits["test"], targets["test"]),
        "test_exact_match": exact_match_accuracy(logits["test"], targets["test"]),
        "test_loss": bce_loss(logits["test"], targets["test"]),
        "train_loss": train_loss,
        **convergence(trained.late, inputs["train"], targets["train"], train_loss),
        "diverged": diverged,
        "majority_accuracy": max(positive_share, 1 - positive_share),
        "nnz_weights": model.nnz_weights(),
        "nnz_biases": model.nnz_biases(),
        "macs_per_example": model.macs_per_example(),
        "trainable_parameters": model.trainable_parameters(),
        **layer,
        "clause_integrity": trained.clause_integrity,
        "clause_collisions": trained.clause_collisions,
        "clause_collisions_any": trained.clause_collisions_any,
        # inputs^2 floats, most of a row's bytes: kept for the seed-0 runs, which the report's
        # Gram figure draws, and no others
        "gram": (layer_gram.astype(np.float32).ravel().tolist()
                 if run.context.seed == 0 and layer_gram is not None else None),
        **{name: own.get(name) for name in METHOD_OUTCOMES},
        "task_fingerprint": task.fingerprint,
        "dataset_fingerprint": dataset.fingerprint,
        **provenance(),
        "wall_seconds": trained.wall_seconds,
    }


def train_and_evaluate(runs, dataset=None, layer_format: str = "auto", on_step=None) -> list[dict]:
    """The result rows of `runs` (all of one training context), trained one after another."""
    from satbench.generators.dataset import build_dataset

    dataset = dataset if dataset is not None else build_dataset(runs[0].context.task)
    return [evaluate(trained, dataset)
            for trained in train_runs(runs, dataset, layer_format, on_step)]

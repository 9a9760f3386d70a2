"""One RunSpec end to end: the dense baseline, FPE and the reference arms on one task.

Arms (all share the task, the data order and, where it applies, the initialisation):
- dense:          T1 + T2 steps of the dense MLP;
- fpe:            the dense model after T1, expanded and pruned to the same non-zero budget, then
                  T2 steps with fixed masks and a fresh optimizer;
- dense_reset:    the dense model after T1 with a fresh optimizer for T2 (isolates the reset);
- wide_dense:     alpha*h dense neurons trained T1 + T2 (alpha times the parameters: a ceiling);
- sparse_scratch: FPE's final masks on a fresh alpha*h network, trained T1 + T2 (sparsity
                  without splitting a trained neuron).

fpe and sparse_scratch have FPE-structured first layers; they train in the FPELinear format
`satbench.kernels.layer_format.planned_format` picks (or the one asked for), recorded per arm.
"""

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from satbench.generators.dataset import Dataset, build_dataset
from satbench.kernels.layer_format import as_masked, planned_format, with_format
from satbench.metrics import accuracy, balanced_accuracy, bce_loss, gram, interference_summary
from satbench.models import MLP, SplitContext, expand
from satbench.models.training import make_optimizer, train_steps
from satbench.provenance import provenance
from satbench.rng import numpy_rng, torch_generator
from satbench.specs import RunSpec
from satbench.threads import training_threads


@dataclass
class TrainedArm:
    method: str
    model: MLP
    wall_seconds: float
    clause_integrity: float = float("nan")
    layer_format: str = "masked"  # the format the first layer trained in


def training_steps(run: RunSpec) -> int:
    """How many optimizer steps train_arms takes over all of `run`'s arms (for progress)."""
    total = run.warmup_steps + run.expanded_steps
    continued = sum(arm in run.arms for arm in ("dense_reset", "fpe"))
    from_scratch = sum(arm in run.arms for arm in ("wide_dense", "sparse_scratch"))
    return total * (1 + from_scratch) + run.expanded_steps * continued


@training_threads()
def train_arms(run: RunSpec, dataset: Dataset, layer_format: str = "auto",
               on_step: Callable[[int], None] | None = None) -> list[TrainedArm]:
    """Every arm of `run`, trained; FPE-structured first layers train in `layer_format` ('auto':
    the fastest for this run's split and sizes). on_step(1) follows every optimizer step."""
    task, arms = run.task, run.arms
    fmt = planned_format(run, layer_format)
    total = run.warmup_steps + run.expanded_steps
    phase = partial(train_steps, inputs=dataset.inputs("train"), targets=dataset.targets("train"),
                    batch_size=run.batch_size, seed=run.seed, on_step=on_step)
    optimizer = partial(make_optimizer, learning_rate=run.learning_rate,
                        weight_decay=run.weight_decay)
    trained = []

    start = time.perf_counter()
    dense = MLP(task.n_inputs, run.neurons, task.n_outputs, torch_generator(run.seed, "init"))
    dense_optimizer = optimizer(dense)
    phase(dense, dense_optimizer, first_step=0, steps=run.warmup_steps)
    warm = copy.deepcopy(dense)
    warmup_seconds = time.perf_counter() - start
    phase(dense, dense_optimizer, first_step=run.warmup_steps, steps=run.expanded_steps)
    trained.append(TrainedArm("dense", dense, time.perf_counter() - start))

    def continue_from_warm(method, model, clause_integrity=float("nan"), fmt="masked"):
        start = time.perf_counter()
        model = with_format(model, run.alpha, fmt)
        phase(model, optimizer(model), first_step=run.warmup_steps, steps=run.expanded_steps)
        seconds = warmup_seconds + time.perf_counter() - start
        trained.append(TrainedArm(method, as_masked(model), seconds, clause_integrity, fmt))

    if "dense_reset" in arms:
        continue_from_warm("dense_reset", copy.deepcopy(warm))
    expansion = None
    if "fpe" in arms or "sparse_scratch" in arms:
        context = SplitContext.for_formula(dataset.formula, task.encoding)
        expansion = expand(warm, run.alpha, run.split, context, numpy_rng(run.seed, "split"),
                           output_scale=run.output_scale)
    if "fpe" in arms:
        continue_from_warm("fpe", copy.deepcopy(expansion.model), expansion.clause_integrity, fmt)

    def from_scratch(method, masks=None, clause_integrity=float("nan"), fmt="masked"):
        start = time.perf_counter()
        model = MLP(task.n_inputs, run.alpha * run.neurons, task.n_outputs,
                    torch_generator(run.seed, "init-wide"))
        if masks is not None:
            model.fc1.set_mask(masks[0])
            model.fc2.set_mask(masks[1])
        model = with_format(model, run.alpha, fmt)
        phase(model, optimizer(model), first_step=0, steps=total)
        trained.append(TrainedArm(method, as_masked(model), time.perf_counter() - start,
                                  clause_integrity, fmt))

    if "wide_dense" in arms:
        from_scratch("wide_dense")
    if "sparse_scratch" in arms:
        masks = (expansion.model.fc1.mask, expansion.model.fc2.mask)
        from_scratch("sparse_scratch", masks, expansion.clause_integrity, fmt)
    return trained


@training_threads()
def evaluate_arm(arm: TrainedArm, run: RunSpec, dataset: Dataset) -> dict:
    """One flat results row: spec fields, metrics, fingerprints, provenance."""
    task = run.task
    model = arm.model.eval()
    inputs = {split: dataset.inputs(split) for split in ("train", "test")}
    with torch.no_grad():
        logits = {split: model(inputs[split]) for split in ("train", "test")}
    targets = {split: dataset.targets(split) for split in ("train", "test")}
    w1 = model.fc1.effective_weight().detach()
    test_rows = dataset.split_rows("test")
    interference = interference_summary(w1, model.fc1.bias.detach(), dataset.formula,
                                        task.encoding, inputs["test"],
                                        dataset.clause_values[test_rows])
    positive_share = float(dataset.labels[test_rows].mean())
    return {
        "run_key": run.key,
        "method": arm.method,
        "split": run.split,
        "alpha": run.alpha,
        "neurons": run.neurons,
        "width_hidden": model.width,
        "clauses": task.n_clauses,
        "vars": task.n_vars,
        "width": task.width,
        "form": task.form,
        "encoding": task.encoding,
        "target": task.target,
        "planted": task.planted,
        "n_train": task.n_train,
        "n_test": task.n_test,
        "seed": run.seed,
        "task_seed": task.seed,
        "output_scale": run.output_scale,
        "warmup_steps": run.warmup_steps,
        "expanded_steps": run.expanded_steps,
        "learning_rate": run.learning_rate,
        "batch_size": run.batch_size,
        "weight_decay": run.weight_decay,
        "layer_format": arm.layer_format,
        "test_accuracy": accuracy(logits["test"], targets["test"]),
        "train_accuracy": accuracy(logits["train"], targets["train"]),
        "test_balanced_accuracy": balanced_accuracy(logits["test"], targets["test"]),
        "test_loss": bce_loss(logits["test"], targets["test"]),
        "train_loss": bce_loss(logits["train"], targets["train"]),
        "majority_accuracy": max(positive_share, 1 - positive_share),
        "nnz_weights": model.nnz_weights(),
        "nnz_biases": model.nnz_biases(),
        **interference,
        "clause_integrity": arm.clause_integrity,
        "gram": gram(w1).astype(np.float32).ravel().tolist(),
        "task_fingerprint": task.fingerprint,
        "dataset_fingerprint": dataset.fingerprint,
        **provenance(),
        "wall_seconds": arm.wall_seconds,
    }


def run_experiment(run: RunSpec, dataset: Dataset | None = None, layer_format: str = "auto",
                   on_step: Callable[[int], None] | None = None) -> list[dict]:
    dataset = dataset if dataset is not None else build_dataset(run.task)
    return [evaluate_arm(arm, run, dataset)
            for arm in train_arms(run, dataset, layer_format, on_step)]

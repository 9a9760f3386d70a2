"""The single-model trainer: the runs of one TrainingContext, one model after another.

The dense baseline trains first when it is asked for or when another method needs its state after
T1 (fpe and dense_reset start from it; sparse_scratch takes its masks from FPE's expansion of it).
It is trained only to T1 when it is not itself asked for. Every other run then builds its model
(from scratch, or from that state) and trains. Each model draws from its own seeded streams, so
the order runs train in does not change any result.
"""

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from satbench.errors import SatbenchError
from satbench.methods import BASELINE, Setup, get_method
from satbench.methods.base import adam_steps, late_step
from satbench.models import MLP
from satbench.runs import RunSpec
from satbench.threads import training_threads
from satbench.training.formats import as_masked, planned_format, with_format


@dataclass
class Trained:
    run: RunSpec
    model: MLP
    wall_seconds: float
    clause_integrity: float = math.nan
    layer_format: str = "masked"  # the format the first layer trained in
    clause_collisions: float = math.nan
    clause_collisions_any: float = math.nan
    late: MLP | None = None  # the model when the last tenth of its steps began


def shared_context(runs: list[RunSpec]):
    """The one TrainingContext `runs` share; a one-line error otherwise."""
    contexts = {run.context for run in runs}
    if len(contexts) != 1:
        raise SatbenchError(f"runs: expected the runs of one training context, got "
                            f"{len(contexts)}")
    return contexts.pop()


def needs_baseline_warmup(runs: list[RunSpec]) -> bool:
    """Whether the dense model must be trained to T1 for other runs without being asked for."""
    return (all(run.method != BASELINE for run in runs)
            and any(run.trainer.needs_warm for run in runs))


def training_steps(runs: list[RunSpec]) -> int:
    """How many optimizer steps train_runs takes (for progress)."""
    context = shared_context(runs)
    steps = sum(run.trainer.steps(context) for run in runs)
    return steps + (context.warmup_steps if needs_baseline_warmup(runs) else 0)


@training_threads()
def train_runs(runs: list[RunSpec], dataset, layer_format: str = "auto",
               on_step: Callable[[int], None] | None = None) -> list[Trained]:
    """Every run of one context, trained, in the order given. Structured first layers train in
    `layer_format` ('auto': the fastest for the run's split and sizes); on_step(1) follows every
    optimizer step."""
    context = shared_context(runs)
    setup = Setup(context, dataset)
    trained, warm_seconds = {}, 0.0
    baseline = [run for run in runs if run.method == BASELINE]
    if baseline or needs_baseline_warmup(runs):
        start = time.perf_counter()
        run = baseline[0] if baseline else RunSpec(context, BASELINE)
        dense = get_method(BASELINE).build(run.params, setup).model
        optimizer = setup.optimizer(dense)  # kept across T1: dense is one continuous run
        snapshot = late_step(0, context.total_steps) if baseline else None
        late = adam_steps(dense, optimizer, setup, 0, context.warmup_steps, on_step, snapshot)
        setup.warm = copy.deepcopy(dense)
        warm_seconds = time.perf_counter() - start
        if baseline:
            late = adam_steps(dense, optimizer, setup, context.warmup_steps,
                              context.expanded_steps, on_step, snapshot) or late
            trained[run.key] = Trained(run, dense, time.perf_counter() - start, late=late)
    for run in runs:
        if run.method == BASELINE:
            continue
        method, fmt = run.trainer, planned_format(run, layer_format)
        built = method.build(run.params, setup)
        model = with_format(built.model, run.params.alpha, fmt) if method.structured \
            else built.model
        start = time.perf_counter()
        late = method.train(model, run.params, setup, on_step)
        seconds = time.perf_counter() - start + (warm_seconds if method.starts_from else 0.0)
        trained[run.key] = Trained(run, as_masked(model), seconds, layer_format=fmt,
                                   late=None if late is None else as_masked(late),
                                   **built.measures())
    return [trained[run.key] for run in runs]

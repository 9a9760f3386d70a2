"""Budgets checked, not declared; params that change nothing are not declared.

Every built-in method that says it holds a budget equal to dense's (`Method.budget`: non-zero
weights, or multiply-adds per example) is trained, briefly, at every distinct cell of every
preset, and its measured cost in that column (what its result row records) must be at most
dense's at the same cell, within satbench.methods.base.BUDGET_TOLERANCE (none). A run that says
budget "none" in its row (`Method.budget_for`) is a reference and is not held to it.
"""

import dataclasses

import pytest
import torch

from satbench.methods import METHODS
from satbench.methods.base import BUDGET_TOLERANCE
from satbench.registry import BUILT_IN
from satbench.runs import RunSpec
from satbench.specs import choices_of
from satbench.sweeps.presets import PRESETS
from satbench.threads import training_threads
from satbench.training.single import train_runs

BUILT_INS = tuple(name for name in METHODS.names() if METHODS.origin(name) == BUILT_IN)
TINY = {"warmup_steps": 2, "expanded_steps": 2, "batch_size": 0, "seed": 0}


def shrunk(run: RunSpec) -> RunSpec:
    """The run at its cell with tiny data and schedule: costs depend on neither."""
    task = run.context.task.replace(n_train=64, n_test=32, seed=0)
    return RunSpec(run.context.replace(task=task, **TINY), run.method, run.params)


def preset_contexts() -> dict:
    """{context: runs} over every preset's distinct cells and method params, shrunk."""
    by_context: dict = {}
    for spec in PRESETS.values():
        for run in map(shrunk, spec.runs()):
            by_context.setdefault(run.context, {})[run.key] = run
    return by_context


def measured(model, column: str) -> int:
    return int(getattr(model, column)())


@pytest.fixture(autouse=True)
def one_thread():
    with training_threads():
        yield


def test_every_declared_budget_holds_at_every_preset_cell():
    from satbench.generators.dataset import build_dataset

    checked, references = set(), set()
    for context, runs in preset_contexts().items():
        held = [run for run in runs.values() if run.trainer.budget != "none"]
        if not held:
            continue
        dataset = build_dataset(context.task)
        trained = train_runs([RunSpec(context, "dense"), *held], dataset)
        dense = trained[0].model
        for result in trained[1:]:
            run = result.run
            budget = run.trainer.budget_for(run.params, context)
            if budget == "none":  # says so in its row: a reference at this cell
                references.add((run.method, context.neurons, context.task.n_clauses))
                continue
            cost, allowed = measured(result.model, budget), measured(dense, budget)
            assert cost <= allowed * (1 + BUDGET_TOLERANCE), (
                f"{run.describe()} at h={context.neurons}, m={context.task.n_clauses}, "
                f"{context.task.target}: {budget} {cost} > dense's {allowed}")
            checked.add(run.method)
    assert checked == {m for m in BUILT_INS if METHODS.get(m).budget != "none"}
    # tree_cc cannot pay for 3 gates with 2 hidden units: its h=2 rows say budget "none"
    assert references == {("tree_cc", 2, 8)}


def test_tree_cc_pays_for_its_gates():
    """The case that was wrong: tree_cc cost dense's h (d + o) plus its gates' k d."""
    from satbench.methods.tree_cc import TreeCC, paid_width

    assert paid_width(96, 8, 1, 3) == 5 and paid_width(96, 4, 1, 3) == 1
    assert paid_width(96, 2, 1, 3) == 0 and paid_width(96, 2, 1, 1) == 1
    (run,) = [r for r in PRESETS["methods"].runs() if r.method == "tree_cc"][:1]
    context = run.context.replace(neurons=2)
    assert TreeCC().budget_for(run.params, context) == "none"
    assert TreeCC().hidden_width(run.params, context) == 1


# --- params that change nothing -----------------------------------------------------------

# Params that may leave the model unchanged, and why they are still declared. sparse_scratch
# takes FPE's masks at FPE's output_scale (so that it pairs with the fpe run of the same params);
# output_scale moves those masks only where the pruning reaches W2, which this small cell's does
# not.
MAY_CHANGE_NOTHING = {("sparse_scratch", "output_scale")}
# Base params that make every other param of the method take effect within TINY's 4 steps.
BASE = {"bimt": {"swap_every": 1}}
# A second value for params whose choices or numbers do not give one simply.
OTHER = {"alpha": 3, "overlap": 1, "drop": 0.25, "swap_every": 1, "swap_top_k": 1,
         "node_decay": 0.5, "depth": 1}


def other_value(field: dataclasses.Field, value, base: dict):
    choices = choices_of(field)
    if choices:
        return next(c for c in choices if c != value)
    if field.name in OTHER and OTHER[field.name] != value:
        return OTHER[field.name]
    return value * 2 if field.type is float else value + 1


def state(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def differ(a: dict, b: dict) -> bool:
    return a.keys() != b.keys() or any(
        a[k].shape != b[k].shape or not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("method", [m for m in BUILT_INS if dataclasses.fields(
    METHODS.get(m).params)])
def test_every_declared_param_changes_the_trained_model(method):
    """For each param a method declares, another value gives another model (a sweep over it
    stores distinct runs, not one run under several names). 4 steps on 96 pm1 inputs, h = 4,
    a read-once DNF of 8 clauses: the paper's task, small, with some weight decay."""
    from satbench.generators.dataset import build_dataset
    from satbench.specs import TaskSpec, TrainingContext

    task = TaskSpec(n_vars=96, n_clauses=8, form="dnf", support="disjoint", n_train=64,
                    n_test=32)
    # weight decay > 0: bimt_optimizer (adam or adamw) differs only in how it applies it
    context = TrainingContext(task, neurons=4, learning_rate=1e-2, weight_decay=0.01, **TINY)
    dataset = build_dataset(task)
    base = BASE.get(method, {})
    runs = [RunSpec(context, method, base)]
    fields = dataclasses.fields(METHODS.get(method).params)
    for field in fields:
        value = getattr(runs[0].params, field.name)
        runs.append(RunSpec(context, method, {**base, field.name: other_value(field, value,
                                                                              base)}))
    models = [state(t.model) for t in train_runs(runs, dataset)]
    for field, model in zip(fields, models[1:], strict=True):
        if (method, field.name) in MAY_CHANGE_NOTHING:
            continue
        assert differ(models[0], model), f"{method}: {field.name} changes nothing"

"""Cells of a sweep draw independent random numbers at one seed; the methods of one cell share
theirs (satbench.rng, seeding scheme 2)."""

import subprocess
import sys

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from satbench.generators.random_formula import random_formula
from satbench.methods import Setup, get_method
from satbench.models.training import batch_indices
from satbench.runs import runs_for
from satbench.specs import TaskSpec, TrainingContext

TASK = TaskSpec(n_vars=96, n_clauses=8, width=3, form="dnf", support="disjoint", n_train=1024,
                n_test=256)


def nested(small, large) -> bool:
    """The smaller formula's clauses are the first clauses of the larger one."""
    return large.clauses[: small.n_clauses] == small.clauses


@given(st.sampled_from(["shared", "disjoint"]), st.integers(1, 15), st.integers(1, 16),
       st.integers(0, 2**32), st.booleans())
@settings(max_examples=60, deadline=None)
def test_formulas_of_cells_differing_in_m_do_not_nest_at_one_seed(support, m, extra, seed, dnf):
    form = "dnf" if dnf else "cnf"
    small = random_formula(96, m, 3, form, seed, support=support)
    large = random_formula(96, m + extra, 3, form, seed, support=support)
    assert not nested(small, large)
    assert small.clauses[0] not in large.clauses[:1]  # not even the first clause repeats


def dense_init(context: TrainingContext) -> torch.nn.Module:
    return get_method("dense").build(None, Setup(context, dataset=None)).model


@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2**32))
@settings(max_examples=40, deadline=None)
def test_cells_differing_in_h_share_no_initial_weights_or_data_order(h, extra, seed):
    small = TrainingContext(TASK, neurons=h, seed=seed, batch_size=64)
    large = small.replace(neurons=h + extra)
    a, b = dense_init(small), dense_init(large)
    assert not torch.equal(a.fc1.weight, b.fc1.weight[:h])
    assert not torch.equal(a.fc1.weight[0], b.fc1.weight[0])
    assert not torch.equal(batch_indices(1024, 64, 0, seed, small.cell),
                           batch_indices(1024, 64, 0, seed, large.cell))


def test_cells_differing_in_m_share_no_initial_weights():
    small = TrainingContext(TASK, seed=3)
    large = small.replace(task=TASK.replace(n_clauses=16))
    assert not torch.equal(dense_init(small).fc1.weight, dense_init(large).fc1.weight)


def test_the_methods_of_one_cell_share_the_formula_data_and_dense_start():
    """Common random numbers where the comparison is paired: every method and params of one
    context, and every schedule or optimizer (budget and timing compare them on one network)."""
    context = TrainingContext(TASK, neurons=4, seed=2, batch_size=64)
    assert {run.context.cell for run in runs_for(context, ("dense", "fpe", "sparse_scratch"),
                                                 alpha=2, split="random")} == {context.cell}
    for other in (context.replace(warmup_steps=3000, expanded_steps=3000),
                  context.replace(learning_rate=0.01, batch_size=128, weight_decay=0.1)):
        assert other.cell == context.cell
        assert torch.equal(dense_init(other).fc1.weight, dense_init(context).fc1.weight)
    # The formula depends on the formula's fields only, the rows not on their presentation.
    assert TASK.replace(n_train=512).formula_cell == TASK.formula_cell
    assert TASK.replace(encoding="literals", target="clauses").data_cell == TASK.data_cell
    assert TASK.replace(encoding="literals").cell != TASK.cell
    assert TASK.replace(n_clauses=16).formula_cell != TASK.formula_cell


def test_a_cell_draws_the_same_numbers_in_another_process():
    code = ("from satbench.generators.random_formula import random_formula; "
            "from satbench.specs import TaskSpec, TrainingContext; "
            "t = TaskSpec(n_vars=96, n_clauses=8, width=3, form='dnf', support='disjoint', "
            "n_train=1024, n_test=256); "
            "print(random_formula(96, 8, 3, 'dnf', 5, support='disjoint').fingerprint, "
            "TrainingContext(t, neurons=4).cell)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = (random_formula(96, 8, 3, "dnf", 5, support="disjoint").fingerprint,
            TrainingContext(TASK, neurons=4).cell)
    assert out.stdout.split() == list(here)

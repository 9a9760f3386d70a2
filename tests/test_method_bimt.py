"""bimt: BIMT's connection cost as defined, swaps that keep the function (and carry the optimizer
state), the pruned budget, determinism, the outcome graph and its figure."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from satbench.errors import SatbenchError
from satbench.generators.dataset import build_dataset
from satbench.methods import check_params_fields
from satbench.methods.base import Setup
from satbench.methods.bimt import Bimt, BimtParams, clauses_of_input, cost_weight, dense_budget
from satbench.models.bimt import (
    LAYERS,
    BimtMLP,
    connection_cost,
    placement_costs,
    relocate,
    swap_changes,
    swap_units,
)
from satbench.reports.bimt_figure import connection_graph_figure
from satbench.rng import torch_generator
from satbench.specs import TaskSpec, TrainingContext, check_fields

TASK = TaskSpec(n_vars=12, n_clauses=6, form="dnf", n_train=256, n_test=128, seed=3)
CONTEXT = TrainingContext(TASK, neurons=4, warmup_steps=40, expanded_steps=20, batch_size=64,
                          seed=0)
PARAMS = BimtParams(swap_every=10)


def small_model(seed: int = 0, n_in: int = 5, hidden: int = 4, n_out: int = 3) -> BimtMLP:
    model = BimtMLP(n_in, hidden, n_out, torch_generator(seed, "bimt-test"), layer_distance=0.1)
    model.input_positions = np.array([3, 0, 4, 1, 2])[:n_in]
    model.output_positions = np.array([2, 0, 1])[:n_out]
    return model


def batch(n_in: int = 5, rows: int = 16) -> torch.Tensor:
    return torch.randn(rows, n_in, generator=torch_generator(1, "bimt-test-x"))


def direct_cost(model: BimtMLP, biases: bool) -> float:
    """The definition, one weight at a time: |w| times the L1 distance of the units it joins."""
    def x(slot, n):
        return (2 * slot + 1) / (2 * n)

    n_in, h, n_out, y = model.n_inputs, model.width, model.n_outputs, model.layer_distance
    w1, w2 = model.fc1.weight.tolist(), model.fc2.weight.tolist()
    total = 0.0
    for j in range(h):
        for i in range(n_in):
            total += abs(w1[j][i]) * (abs(x(j, h) - x(model.input_positions[i], n_in)) + y)
        for o in range(n_out):
            total += abs(w2[o][j]) * (abs(x(model.output_positions[o], n_out) - x(j, h)) + y)
    if biases:
        total += y * sum(abs(b) for layer in (model.fc1, model.fc2) for b in layer.bias.tolist())
    return total


@pytest.mark.parametrize("biases", [True, False])
def test_connection_cost_is_the_definition(biases):
    model = small_model()
    assert connection_cost(model, biases).item() == pytest.approx(direct_cost(model, biases),
                                                                  rel=1e-6)


@pytest.mark.parametrize("layer", LAYERS)
def test_every_candidate_swap_changes_the_cost_by_what_swap_changes_says(layer):
    model = small_model().double()
    before = connection_cost(model).item()
    for unit in range(len(placement_costs(model, layer)[1])):
        changes = swap_changes(*placement_costs(model, layer), unit)
        for other, change in enumerate(changes.tolist()):
            swap_units(model, layer, unit, other)
            assert connection_cost(model).item() - before == pytest.approx(change, abs=1e-12)
            swap_units(model, layer, unit, other)  # and back


@pytest.mark.parametrize("layer", LAYERS)
def test_a_swap_leaves_the_function_unchanged(layer):
    model, x = small_model(), batch()
    before, positions = model(x), (model.input_positions.copy(), model.output_positions.copy())
    swap_units(model, layer, 0, 2)
    if layer == "hidden":  # the output sums the hidden units in another order: round-off only
        assert torch.allclose(model(x), before, atol=1e-6)
    else:  # the weights did not move
        assert torch.equal(model(x), before)
    moved = {"input": model.input_positions, "output": model.output_positions}
    for name, old, new in zip(("input", "output"), positions, moved.values(), strict=True):
        assert (old != new).any() == (name == layer)
    if layer == "input":  # input 0 and input 2 traded slots; their weights stayed put
        assert model.input_positions.tolist() == [4, 0, 3, 1, 2]


def test_a_hidden_swap_carries_the_optimizer_state_along():
    x, y = batch(), torch.rand(16, 3, generator=torch_generator(2, "bimt-test-y"))

    def trained(steps: int):
        model = small_model()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
        for _ in range(steps):
            optimizer.zero_grad()
            F.binary_cross_entropy_with_logits(model(x), y).backward()
            optimizer.step()
        return model, optimizer

    def one_more_step(model, optimizer):
        optimizer.zero_grad()
        F.binary_cross_entropy_with_logits(model(x), y).backward()
        optimizer.step()

    reference, optimizer = trained(3)
    swapped, swapped_optimizer = trained(3)
    forgetful, forgetful_optimizer = trained(3)
    swap_units(swapped, "hidden", 1, 3, swapped_optimizer)
    swap_units(forgetful, "hidden", 1, 3)  # the official swap: the state stays behind
    for model, opt in ((reference, optimizer), (swapped, swapped_optimizer),
                       (forgetful, forgetful_optimizer)):
        one_more_step(model, opt)
    order = [0, 3, 2, 1]
    assert torch.allclose(swapped.fc1.weight, reference.fc1.weight[order], atol=1e-7)
    assert torch.allclose(swapped.fc2.weight, reference.fc2.weight[:, order], atol=1e-7)
    assert torch.allclose(swapped(x), reference(x), atol=1e-6)
    assert not torch.allclose(forgetful.fc1.weight, reference.fc1.weight[order], atol=1e-5)


def test_relocation_lowers_the_cost_and_keeps_the_function():
    model = BimtMLP(12, 8, 2, torch_generator(0, "bimt-test"), layer_distance=0.1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = batch(12)
    before, cost = model(x), connection_cost(model).item()
    assert relocate(model, 5, optimizer) > 0
    assert connection_cost(model).item() < cost
    assert torch.allclose(model(x), before, atol=1e-6)
    assert sorted(model.input_positions.tolist()) == list(range(12))
    assert relocate(model, 0, optimizer) == 0


def test_lambda_follows_the_official_schedule():
    assert [cost_weight(s, 8, 1.0) for s in range(8)] == [1, 1, 10, 10, 10, 10, 1, 1]


def train(context=CONTEXT, params=PARAMS):
    dataset = build_dataset(context.task)
    setup, method = Setup(context, dataset), Bimt()
    method.check(params, context)
    model = method.build(params, setup).model
    late = method.train(model, params, setup)
    return model, late, method, dataset


def test_training_is_deterministic_and_ends_at_the_dense_budget():
    (first, late, method, dataset), (second, *_) = train(), train()
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert first.input_positions.tolist() == second.input_positions.tolist()
    assert first.nnz_weights() == dense_budget(CONTEXT) == 4 * (TASK.n_inputs + TASK.n_outputs)
    assert first.width == 8 and first.activation == "silu"
    assert late is not None and late.nnz_weights() == first.nnz_weights()  # late is in T2
    graph = json.loads(method.outcomes(first, PARAMS, CONTEXT, dataset)["connection_graph"])
    assert np.count_nonzero(graph["w1"]) + np.count_nonzero(graph["w2"]) == first.nnz_weights()
    assert graph["input_positions"] == first.input_positions.tolist()
    assert method.outcomes(first, PARAMS, CONTEXT.replace(seed=1), dataset) == \
        {"connection_graph": None}


def test_pruning_keeps_the_dense_count_without_t2_and_with_relu_adam():
    params = BimtParams(swap_every=7, bimt_activation="relu", bimt_optimizer="adam")
    model, late, *_ = train(CONTEXT.replace(expanded_steps=0), params)
    assert model.nnz_weights() == dense_budget(CONTEXT) and model.activation == "relu"
    assert late is not None and late.fc1.is_dense  # taken in BIMT's phase, before pruning


def test_clauses_of_input_inverts_the_clauses():
    formula = build_dataset(TASK).formula
    users = clauses_of_input(formula, "pm1")
    assert len(users) == TASK.n_inputs
    for c, clause in enumerate(formula.clauses):
        for i in range(TASK.n_inputs):
            assert (c in users[i]) == (i in {abs(lit) - 1 for lit in clause})


@pytest.mark.parametrize("change", [{"alpha": 1}, {"swap_every": 0}, {"swap_top_k": -1},
                                    {"bimt_lambda": -1.0}, {"layer_distance": float("nan")},
                                    {"bimt_learning_rate": 0.0}, {"bimt_activation": "tanh"},
                                    {"bimt_optimizer": "sgd"}])
def test_bad_params_are_one_line_errors(change):
    params = BimtParams(**change)
    with pytest.raises(SatbenchError):
        check_fields(params)
        Bimt().check(params, CONTEXT)


def test_params_clash_with_no_task_or_training_field():
    check_params_fields(Bimt())


def test_the_figure_draws_a_small_graph(tmp_path):
    graph = {"w1": [[0.5, 0.0, -1.0], [0.0, 2.0, 0.0]], "b1": [0.1, -0.1],
             "w2": [[1.0, -0.5]], "b2": [0.0], "input_positions": [2, 0, 1],
             "output_positions": [0], "clauses_of_input": [[0], [], [0, 1]]}
    path = tmp_path / "bimt.png"
    caption = connection_graph_figure([(graph, "bimt, seed 0")], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "3 inputs" in caption


def test_the_figure_module_needs_no_torch():
    script = ("import sys; import satbench.reports.bimt_figure; "
              "assert 'torch' not in sys.modules, 'bimt_figure imported torch'")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)

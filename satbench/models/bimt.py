"""BIMT's geometry on the one-hidden-layer MLP: where each unit sits, the connection cost, and the
swaps that move units to cheaper places (Liu, Gan, Tegmark 2023, "Seeing is Believing:
Brain-Inspired Modular Training for Mechanistic Interpretability", arXiv 2305.08746).

The three layers of units lie on horizontal lines: inputs at height 0, hidden units at y*, outputs
at 2 y*. A layer of n units has n slots at x = A (1/(2n), 3/(2n), ..., 1 - 1/(2n)), with A = 1
(BIMT's default). A weight joining two units costs |w| times their L1 distance, |dx| + y*, and a
bias costs y* |b|.

Hidden units are anonymous, so a hidden unit's slot is its index and a hidden swap permutes the
weights (rows of W1 and of its mask, the bias, columns of W2) together with the optimizer's
per-weight state, so that the next step continues as if the unit had always been there. Inputs
and outputs have identities the data fix, so their weights stay in input (output) order and
`input_positions` / `output_positions` record the slot each one has: a swap there changes the cost
and leaves the function alone. BIMT's official code (KindXiaoming/BIMT) permutes the input vector
instead and does not carry the optimizer state along with a hidden swap; both are changed here.
"""

import numpy as np
import torch

from satbench.models.mlp import MLP

LAYERS = ("input", "hidden", "output")  # BIMT relocates them in this order, bottom to top


def slot_coordinates(n: int, extent: float = 1.0) -> torch.Tensor:
    """The x of a layer's n slots: evenly spread over [0, extent], half a gap from each end."""
    return torch.linspace(1 / (2 * n), 1 - 1 / (2 * n), n, dtype=torch.float64) * extent


class BimtMLP(MLP):
    """An MLP whose units have BIMT places: layer_distance is y*, input_positions[i] the slot of
    input i and output_positions[o] the slot of output o (numpy int arrays, permutations)."""

    def __init__(self, n_inputs: int, n_hidden: int, n_outputs: int,
                 generator: torch.Generator | None, *, layer_distance: float,
                 activation: str = "silu"):
        super().__init__(n_inputs, n_hidden, n_outputs, generator, activation=activation)
        self.layer_distance = float(layer_distance)
        self.input_positions = np.arange(n_inputs)
        self.output_positions = np.arange(n_outputs)

    def coordinates(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The x of each input, hidden unit and output (in weight order) where it sits now."""
        inputs, outputs = slot_coordinates(self.n_inputs), slot_coordinates(self.n_outputs)
        return (inputs[torch.as_tensor(self.input_positions)], slot_coordinates(self.width),
                outputs[torch.as_tensor(self.output_positions)])


def _gaps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a_p - b_q| for every pair: the horizontal distances between two layers' units."""
    return (a[:, None] - b[None, :]).abs()


def connection_cost(model: BimtMLP, biases: bool = True) -> torch.Tensor:
    """sum |w| (|dx| + y*) over W1 and W2, plus y* sum |b| when `biases`: differentiable, in the
    weights' dtype."""
    x_in, x_hidden, x_out = (x.to(model.fc1.weight.dtype) for x in model.coordinates())
    y_star = model.layer_distance
    cost = (model.fc1.effective_weight().abs() * (_gaps(x_hidden, x_in) + y_star)).sum() \
        + (model.fc2.effective_weight().abs() * (_gaps(x_out, x_hidden) + y_star)).sum()
    if biases:
        cost = cost + y_star * sum(layer.bias.abs().sum() for layer in (model.fc1, model.fc2)
                                   if layer.bias is not None)
    return cost


@torch.no_grad()
def importance(model: BimtMLP, layer: str) -> torch.Tensor:
    """Each unit's summed |incoming| + |outgoing| weights (in weight order): BIMT swaps the
    top-k of these."""
    w1, w2 = model.fc1.effective_weight().abs(), model.fc2.effective_weight().abs()
    if layer == "input":
        return w1.sum(dim=0)
    if layer == "hidden":
        return w1.sum(dim=1) + w2.sum(dim=0)
    return w2.sum(dim=1)


@torch.no_grad()
def placement_costs(model: BimtMLP, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(cost_at, positions) for one layer, in float64: cost_at[u, s] is the distance cost of unit
    u's weights if u sat in slot s with every other unit where it is, and positions[u] is u's
    slot. The y* terms are left out: no swap changes them."""
    w1 = model.fc1.effective_weight().abs().double()
    w2 = model.fc2.effective_weight().abs().double()
    x_in, x_hidden, x_out = model.coordinates()
    if layer == "input":
        slots = slot_coordinates(model.n_inputs)
        return w1.T @ _gaps(x_hidden, slots), torch.as_tensor(model.input_positions)
    if layer == "hidden":
        cost_at = w1 @ _gaps(x_in, x_hidden) + w2.T @ _gaps(x_out, x_hidden)
        return cost_at, torch.arange(model.width)
    slots = slot_coordinates(model.n_outputs)
    return w2 @ _gaps(x_hidden, slots), torch.as_tensor(model.output_positions)


def swap_changes(cost_at: torch.Tensor, positions: torch.Tensor, unit: int) -> torch.Tensor:
    """The connection cost change of swapping `unit` with each unit of its layer, all at once
    (0 for itself): each of the two units leaves its slot for the other's."""
    here = cost_at[torch.arange(len(positions)), positions]
    changes = cost_at[unit, positions] + cost_at[:, positions[unit]] - here[unit] - here
    changes[unit] = 0.0
    return changes


@torch.no_grad()
def _swap_(tensor: torch.Tensor, dim: int, a: int, b: int) -> None:
    order = torch.arange(tensor.shape[dim], device=tensor.device)
    order[a], order[b] = b, a
    tensor.copy_(tensor.index_select(dim, order))


def _swap_with_state_(tensor: torch.Tensor, dim: int, a: int, b: int, optimizer) -> None:
    """Swap entries a and b of a parameter or buffer along dim, and of every optimizer state
    tensor shaped like it (Adam's exp_avg, exp_avg_sq, and max_exp_avg_sq under amsgrad)."""
    _swap_(tensor, dim, a, b)
    state = optimizer.state.get(tensor, {}) if optimizer is not None else {}
    for value in state.values():
        if torch.is_tensor(value) and value.shape == tensor.shape:
            _swap_(value, dim, a, b)


def swap_units(model: BimtMLP, layer: str, a: int, b: int, optimizer=None) -> None:
    """Swap units a and b of a layer (weight-order indices); the network's function is unchanged.
    Inputs and outputs trade slots; hidden units trade weights, bias and optimizer state."""
    if layer == "input":
        model.input_positions[[a, b]] = model.input_positions[[b, a]]
    elif layer == "output":
        model.output_positions[[a, b]] = model.output_positions[[b, a]]
    else:
        for tensor, dim in ((model.fc1.weight, 0), (model.fc1.mask, 0), (model.fc1.bias, 0),
                            (model.fc2.weight, 1), (model.fc2.mask, 1)):
            if tensor is not None:
                _swap_with_state_(tensor, dim, a, b, optimizer)


def relocate(model: BimtMLP, top_k: int, optimizer=None) -> int:
    """One round of BIMT's swaps: in each layer, bottom to top, each of the top_k most important
    units (ranked once per layer) swaps with the unit of its layer whose slot lowers the
    connection cost most, if any does. Returns the number of swaps made.

    The official code relocates the slot a top unit held when ranked; here the unit is followed
    when an earlier swap of the round moved it."""
    swaps = 0
    for layer in LAYERS:
        ranked = torch.argsort(-importance(model, layer), stable=True)[:top_k].tolist()
        for i, unit in enumerate(ranked):
            changes = swap_changes(*placement_costs(model, layer), unit)
            other = int(torch.argmin(changes))
            if not changes[other] < 0:
                continue
            swap_units(model, layer, unit, other, optimizer)
            swaps += 1
            if layer == "hidden":  # the two units traded indices
                ranked[i + 1:] = [other if u == unit else unit if u == other else u
                                  for u in ranked[i + 1:]]
    return swaps

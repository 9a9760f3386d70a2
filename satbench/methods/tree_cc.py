"""tree_cc: tree-structured conditional computation (Cho and Bengio 2014, "Exponentially
Increasing the Capacity-to-Computation Ratio for Conditional Computation in Deep Learning",
arXiv 1406.7362; no official code exists), and tree_dense, its matched-parameter reference.

tree_cc is an MLP of h' hidden units whose first layer is one of 2^k matrices, picked per example
by k fixed gates (satbench.models.tree.TreeMLP): each leaf's matrix is the sum of the k + 1 node
matrices on its root-to-leaf path. h' (`paid_width`) is the most units whose multiply-adds, the
gates' included, fit in dense's (see Budget below). It trains T1 + T2 steps from scratch, like
dense, from dense's "init" stream (nodes below the root at zero): where the gates cost nothing
(never: h' < h whenever k >= 1) it would start as dense's initial model; at h' < h its root holds
the first h' rows of dense's initial W1. Choices where the paper leaves room, or where this
setting differs from it:
- Gates: the paper's sign bits are hidden units of a lower layer; here they read the input
  directly, and, having no gradient, stay as initialised: fixed random hyperplanes from the run
  seed's "tree-gates" stream, each with its bias at minus the median of its projection over the
  training inputs, so that each gate splits the training set in half.
- Optimizers: the node table's gradient is sparse (only the nodes on the paths the batch used)
  and torch.optim.SparseAdam updates those rows only, moments and values, so a node keeps its
  state until an example reaches it again; the hidden bias, W2 and b2 are dense parameters under
  torch.optim.Adam (with the context's weight decay, as every method's are). Both run at the
  context's learning rate. Adam, not the paper's SGD: every satbench method trains with Adam.
  SparseAdam's bias correction counts the optimizer's steps, not each row's (PyTorch's lazy
  Adam).
- Node decay: the paper's time-aware weight decay, lambda = `node_decay`: a node unused for dt
  steps is scaled by (1 - lr * lambda)^dt when next used, as if it had been decayed at every step
  (satbench.models.tree.LazyNodeDecay); every node is brought up to date at the end.
- Budget: tree_cc is held to dense's multiply-adds per example, gates included, with no
  tolerance (satbench.methods.base.BUDGET_TOLERANCE; tests/test_budgets.py checks it at every
  preset cell). An example costs h' d + o h' for its leaf's layer and W2 (summing the path is
  additions, and at inference the 2^k leaf matrices can be summed in advance) plus k d for the
  gates; dense costs h (d + o). So h' = floor((h (d + o) - k d) / (d + o)), about h - k: each
  gate is paid for with one hidden unit. Its learned weights are (2^(k+1) - 1) h' d + o h'. At the
  96-variable pm1 task, one output, h = 8 and k = 3: h' = 5, 9.3 times dense's weights for 0.99
  times its multiply-adds. Where not even one unit and the gates fit (h (d + o) < d + o + k d: at
  h = 2 with k >= 2, say), tree_cc trains one unit and its row says budget "none": it is then a
  reference that costs more than dense, not a method at dense's budget.
- Metrics: first_layers gives one group per leaf the inputs reach (its rows, its matrix, the
  hidden bias), and the interference metrics are averaged over leaves weighted by their rows.
  The method's own outcome is `leaf_entropy`, the entropy in bits of the test split's leaves.

tree_dense is a plain dense ReLU MLP trained T1 + T2 steps from scratch whose width H' gives it
as many trainable parameters as tree_cc at the same depth and h, within (d + 1 + o) / 2:
H' = round((P_tree - o) / (d + 1 + o)). It separates what the tree's conditional routing adds
from what its parameter count alone adds.
"""

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from satbench.errors import SatbenchError
from satbench.methods.base import Built, Method, Setup, late_step
from satbench.models.adam import Adam, SparseAdam
from satbench.models.training import batch_indices
from satbench.models.tree import LazyNodeDecay, TreeMLP, tree_trainable_parameters
from satbench.rng import run_torch_generator
from satbench.specs import check_int, spec_field

MAX_DEPTH = 10  # 2^11 - 1 node matrices per model: deeper trees are beyond this benchmark


def depth_field():
    """The tree depth, shared by tree_cc and tree_dense so that their flag and column match."""
    return spec_field(3, help=f"tree_cc: gating units k, the tree's depth (2^k leaves, "
                              f"2^(k+1) - 1 node matrices per hidden unit), 1..{MAX_DEPTH}")


def check_depth(depth) -> None:
    check_int("depth", depth, 1)
    if depth > MAX_DEPTH:
        raise SatbenchError(f"depth: expected an integer in 1..{MAX_DEPTH}, got {depth!r}")


@dataclass(frozen=True)
class TreeParams:
    depth: int = depth_field()
    node_decay: float = spec_field(1e-4, help="tree_cc: time-aware decay lambda of the node "
                                              "matrices: one unused for dt steps is scaled by "
                                              "(1 - lr * lambda)^dt")


@dataclass(frozen=True)
class TreeDenseParams:
    depth: int = depth_field()


class TreeTraining:
    """tree_cc's optimizers and node decay around one model: step() is one training step."""

    def __init__(self, model: TreeMLP, learning_rate: float, weight_decay: float, decay):
        self.model, self.decay = model, decay
        self.nodes = SparseAdam([model.nodes], lr=learning_rate)
        self.dense = Adam([model.bias1, model.fc2.weight, model.fc2.bias],
                                      lr=learning_rate, weight_decay=weight_decay)

    def step(self, x: torch.Tensor, y: torch.Tensor, done: int) -> None:
        """The step after `done` steps of this run: the decay the nodes it uses owe, then the
        forward pass, the backward pass and both optimizers."""
        model = self.model
        self.decay.catch_up_(model.nodes, model.paths[model.leaves(x)].flatten(), done + 1)
        loss = F.binary_cross_entropy_with_logits(model(x), y)
        self.nodes.zero_grad(set_to_none=True)
        self.dense.zero_grad(set_to_none=True)
        loss.backward()
        self.nodes.step()
        self.dense.step()

    def settled_copy(self, done: int) -> TreeMLP:
        """A copy of the model with every node's decay through `done` steps applied."""
        late = copy.deepcopy(self.model)
        with torch.no_grad():
            late.nodes.copy_(self.decay.settled(self.model.nodes, done))
        return late


def train_tree(model: TreeMLP, setup: Setup, first: int, steps: int, decay,
               on_step=None) -> TreeMLP | None:
    """Steps first .. first + steps - 1 of the shared schedule; every node is up to date with
    `decay` at the end. Returns the model (decay settled) when the last tenth began, or None."""
    context = setup.context
    inputs, targets = setup.dataset.inputs("train"), setup.dataset.targets("train")
    training = TreeTraining(model, context.learning_rate, context.weight_decay, decay)
    late_at, late = late_step(first, steps), None
    model.train()
    for step in range(first, first + steps):
        if step == late_at:
            late = training.settled_copy(step - first)
        rows = batch_indices(len(inputs), context.batch_size, step, context.seed,
                             context.cell)
        x, y = (inputs, targets) if rows is None else (inputs[rows], targets[rows])
        training.step(x, y, step - first)
        if on_step is not None:
            on_step(1)
    decay.flush_(model.nodes, steps)
    return late


def paid_width(n_inputs: int, n_hidden: int, n_outputs: int, depth: int) -> int:
    """The most hidden units h' whose multiply-adds per example with the depth gates',
    h' (d + o) + k d, stay within dense's h (d + o); 0 when not even one fits."""
    return max(0, (n_hidden * (n_inputs + n_outputs) - depth * n_inputs)
               // (n_inputs + n_outputs))


class TreeCC(Method):
    name = "tree_cc"
    version = "2"  # 1 held h units and did not pay for its gates
    summary = ("tree-structured conditional computation (Cho & Bengio 2014): k fixed gates pick "
               "one of 2^k first layers, each a sum of k + 1 tree nodes")
    params = TreeParams
    batchable = False  # its own training loop: sparse node updates and lazy node decay
    budget = "macs_per_example"
    compare_with = ("dense", "tree_dense")

    def check(self, params, context) -> None:
        check_depth(params.depth)
        rate = float(params.node_decay) * float(context.learning_rate)
        if not 0.0 <= rate <= 1.0:
            raise SatbenchError(f"node_decay: expected a number in [0, 1 / learning_rate] "
                                f"(a decay factor in [0, 1]), got {params.node_decay!r}")

    def hidden_width(self, params, context) -> int:
        task = context.task
        return max(1, paid_width(task.n_inputs, context.neurons, task.n_outputs, params.depth))

    def budget_for(self, params, context) -> str:
        task = context.task
        paid = paid_width(task.n_inputs, context.neurons, task.n_outputs, params.depth)
        return self.budget if paid >= 1 else "none"

    def build(self, params, setup: Setup) -> Built:
        context, task = setup.context, setup.context.task
        model = TreeMLP(task.n_inputs, self.hidden_width(params, context), task.n_outputs,
                        params.depth,
                        run_torch_generator(context, "init"),
                        run_torch_generator(context, "tree-gates"))
        model.split_gates_(setup.dataset.inputs("train"))
        return Built(model)

    def train(self, model, params, setup: Setup, on_step=None):
        context = setup.context
        decay = LazyNodeDecay(len(model.nodes), context.learning_rate * params.node_decay)
        return train_tree(model, setup, self.first_step(context), self.steps(context), decay,
                          on_step)

    def outcomes(self, model, params, context, dataset) -> dict:
        return {"leaf_entropy": model.leaf_entropy(dataset.inputs("test"))}


def matched_width(n_inputs: int, n_hidden: int, n_outputs: int, depth: int) -> int:
    """The dense width whose trainable parameters H' (d + 1 + o) + o are nearest those of
    tree_cc's tree at dense width h = n_hidden (which has max(1, paid_width) units)."""
    width = max(1, paid_width(n_inputs, n_hidden, n_outputs, depth))
    tree = tree_trainable_parameters(n_inputs, width, n_outputs, depth)
    return round((tree - n_outputs) / (n_inputs + 1 + n_outputs))


class TreeDense(Method):
    name = "tree_dense"
    version = "2"  # 1 matched a tree of h units; tree_cc has paid_width units since its version 2
    summary = ("tree_cc's matched-parameter reference: a dense MLP as wide as tree_cc's "
               "trainable parameters allow, from scratch")
    params = TreeDenseParams
    budget = "none"  # wider than dense: it holds tree_cc's parameter count, not dense's budget

    def check(self, params, context) -> None:
        check_depth(params.depth)

    def hidden_width(self, params, context) -> int:
        task = context.task
        return matched_width(task.n_inputs, context.neurons, task.n_outputs, params.depth)

    def build(self, params, setup: Setup) -> Built:
        return Built(setup.fresh_model(self.hidden_width(params, setup.context),
                                       "init-tree-dense"))

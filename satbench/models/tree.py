"""A one-hidden-layer MLP whose first layer is chosen per example by a binary tree of gates: the
tree-structured conditional computation of Cho and Bengio 2014, "Exponentially Increasing the
Capacity-to-Computation Ratio for Conditional Computation in Deep Learning" (arXiv 1406.7362).

k gating units read the input; their sign bits b1..bk pick a leaf of a depth-k binary tree. Each
tree node holds one (h, d) matrix (stored flattened: `nodes` is (n_nodes, h*d)), and an example's
first-layer weights are the sum of the k + 1 node matrices on its root-to-leaf path,
W(b) = sum_{l=0..k} T(b1..bl), so a hidden unit has 2^(k+1) - 1 vectors but each example sums
only k + 1 of them. Node numbering: the level-l node on the path is (2^l - 1) + the value of
b1..bl read as a binary number (b1 the most significant bit); the leaves are numbered 0..2^k - 1
by b1..bk.

Gates: in the paper the sign bits are hidden units of a lower layer; with one hidden layer they
read the input directly. Sign has no gradient, so the gates stay as initialised: fixed random
hyperplanes (a standard normal draw), each with its bias set to minus the median of its
projection over the training inputs (`split_gates_`), so that each gate splits the training set
in half. They are buffers, regenerated from the seed: not learned, not in nnz_weights nor in
trainable_parameters, but in macs_per_example (k*d per example).

Gradients reach the selected nodes only: the path matrices are gathered with
F.embedding(..., sparse=True), so the node table's gradient is sparse, holding the rows of the
paths the batch used (see satbench.methods.tree_cc for the optimizers and the node decay).
"""

import torch
import torch.nn.functional as F
from torch import nn

from satbench.models.masked_linear import MaskedLinear, check_sizes


def n_nodes(depth: int) -> int:
    """Nodes of a binary tree with `depth` levels of gates: 2^(depth + 1) - 1."""
    return 2 ** (depth + 1) - 1


def tree_trainable_parameters(n_inputs: int, n_hidden: int, n_outputs: int, depth: int) -> int:
    """A TreeMLP's learned scalars: every node matrix, the hidden bias, W2 and b2."""
    return n_nodes(depth) * n_hidden * n_inputs + n_hidden + n_outputs * n_hidden + n_outputs


def path_node_ids(depth: int) -> torch.Tensor:
    """(2^depth, depth + 1): the node id at each level of each leaf's root-to-leaf path."""
    leaves = torch.arange(2**depth).unsqueeze(1)
    levels = torch.arange(depth + 1)
    return (2**levels - 1) + torch.div(leaves, 2 ** (depth - levels), rounding_mode="floor")


def entropy_bits(counts: torch.Tensor) -> float:
    """The entropy in bits of the distribution proportional to `counts` (zeros ignored)."""
    p = counts[counts > 0].double() / counts.sum()
    return float(-(p * torch.log2(p)).sum()) + 0.0  # + 0.0: one leaf gives 0.0, not -0.0


class TreeMLP(nn.Module):
    """x -> fc2(relu(W(leaf(x)) x + bias1)), W(leaf) the sum of the node matrices on the path.

    generator: the seeded generator the learned parameters are drawn from, in the MLP's order and
    with its bounds (root, bias1, fc2 weight, fc2 bias; uniform in +-1/sqrt(fan_in)); the nodes
    below the root start at zero, so the untrained tree holds the very weights of the MLP drawn
    from the same generator state (every leaf's matrix is the root; outputs equal to round-off).
    Zero, not small random, deeper nodes: the tree then starts as the dense baseline and departs
    from it only where training moves a leaf's own nodes, so any difference from dense comes from
    the conditional capacity, not from a perturbed start. gate_generator: the stream of the fixed
    gate hyperplanes. None leaves the corresponding tensors at zero (a container to load into).
    """

    def __init__(self, n_inputs: int, n_hidden: int, n_outputs: int, depth: int,
                 generator: torch.Generator | None, gate_generator: torch.Generator | None):
        super().__init__()
        check_sizes(n_inputs=n_inputs, n_hidden=n_hidden, n_outputs=n_outputs, depth=depth)
        self.n_inputs, self.depth = n_inputs, depth
        self.nodes = nn.Parameter(torch.zeros(n_nodes(depth), n_hidden * n_inputs))
        self.bias1 = nn.Parameter(torch.zeros(n_hidden))
        if generator is not None:
            with torch.no_grad():
                bound = n_inputs**-0.5  # MaskedLinear's (nn.Linear's) bound, drawn in its order
                self.nodes[0].uniform_(-bound, bound, generator=generator)
                self.bias1.uniform_(-bound, bound, generator=generator)
        self.fc2 = MaskedLinear(n_outputs, n_hidden, generator=generator)
        self.register_buffer("gate_weight", torch.zeros(depth, n_inputs))
        self.register_buffer("gate_bias", torch.zeros(depth))
        self.register_buffer("paths", path_node_ids(depth))
        if gate_generator is not None:
            self.gate_weight.normal_(generator=gate_generator)

    @torch.no_grad()
    def split_gates_(self, inputs: torch.Tensor) -> None:
        """Set each gate's bias to minus the median of its projection over `inputs`, so that
        each gate is on for half of them."""
        self.gate_bias.copy_(-(inputs @ self.gate_weight.T).median(dim=0).values)

    @property
    def width(self) -> int:
        """The number of hidden units h."""
        return self.bias1.numel()

    @property
    def n_outputs(self) -> int:
        return self.fc2.out_features

    @torch.no_grad()
    def leaves(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) the leaf each example reaches: the gates' sign bits, b1 the most significant."""
        bits = (F.linear(x, self.gate_weight, self.gate_bias) > 0).long()
        return bits @ (2 ** torch.arange(self.depth - 1, -1, -1))

    def leaf_weights(self, leaves: torch.Tensor) -> torch.Tensor:
        """(len(leaves), h, d): each leaf's effective first-layer matrix, the sum of its path's
        node matrices, gathered sparsely so that only those nodes get gradients."""
        path = F.embedding(self.paths[leaves], self.nodes, sparse=True)
        return path.sum(dim=1).view(len(leaves), self.width, self.n_inputs)

    def hidden_preactivations(self, x: torch.Tensor) -> torch.Tensor:
        # Each used leaf's matrix is summed once and then gathered per example: the same (B, h, d)
        # effective weights as summing each example's path, with a sparse gradient of at most
        # 2^k (k + 1) rows instead of B (k + 1), which keeps the backward pass ~4x cheaper.
        used, example_leaf = torch.unique(self.leaves(x), return_inverse=True)
        weights = self.leaf_weights(used)[example_leaf]
        return torch.einsum("bhd,bd->bh", weights, x) + self.bias1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.hidden_preactivations(x)))

    def nnz_weights(self) -> int:
        """Non-zero node entries (every node is learned; a node no example ever reached stays at
        its zero start and is not counted) plus nnz(W2). The fixed gates are not counted."""
        return int(torch.count_nonzero(self.nodes)) + self.fc2.nnz()

    def nnz_biases(self) -> int:
        return int(torch.count_nonzero(self.bias1)) + int(torch.count_nonzero(self.fc2.bias))

    def macs_per_example(self) -> int:
        """h*d for the example's first-layer product, nnz(W2), and k*d for the fixed gates.

        Summing the k + 1 path matrices is additions, not multiply-adds, and at inference the
        2^k leaf matrices can be summed once in advance, so the tree's first layer costs what a
        dense layer's does.
        """
        return self.width * self.n_inputs + self.fc2.nnz() + self.depth * self.n_inputs

    def trainable_parameters(self) -> int:
        return (self.nodes.numel() + self.bias1.numel() + int(self.fc2.mask.sum())
                + self.fc2.bias.numel())

    @torch.no_grad()
    def first_layers(self, inputs: torch.Tensor) -> list:
        """One (rows, W(leaf), bias1) per leaf that `inputs` reach, leaves in ascending order:
        the rows of `inputs` at that leaf, the leaf's effective (h, d) first layer and the
        hidden bias."""
        leaves = self.leaves(inputs)
        used = torch.unique(leaves)
        weights = self.leaf_weights(used)
        return [(torch.nonzero(leaves == leaf).squeeze(1), weight, self.bias1.detach())
                for leaf, weight in zip(used, weights, strict=True)]

    @torch.no_grad()
    def leaf_entropy(self, inputs: torch.Tensor) -> float:
        """The entropy in bits of the leaves `inputs` reach: 0 for one leaf, k for uniform."""
        return entropy_bits(torch.bincount(self.leaves(inputs), minlength=2**self.depth))


class LazyNodeDecay:
    """Cho and Bengio's time-aware weight decay of the node matrices, applied lazily.

    Eagerly, every node is multiplied by factor = 1 - learning_rate * node_decay at the start of
    every step (before the forward pass). A node no step uses is otherwise unchanged (its
    gradient is absent, and SparseAdam leaves absent rows alone), so those multiplications can
    wait: a node unused for dt steps is multiplied by factor^dt when it is next used, at the
    start of that step, and every node is brought up to date at the end of training (and in a
    snapshot taken mid-way). `received[n]` counts the steps whose decay node n has had. The
    result equals the eager decay up to float round-off (tests/test_method_tree_cc.py).
    """

    def __init__(self, n_nodes: int, rate: float):
        self.factor = 1.0 - rate
        self.received = torch.zeros(n_nodes, dtype=torch.long)

    def _owed(self, rows: torch.Tensor, through: int) -> torch.Tensor:
        # factor^dt in float64, rounded once to float32.
        dt = (through - self.received[rows]).double()
        return torch.pow(torch.tensor(self.factor, dtype=torch.float64), dt).float().unsqueeze(1)

    @torch.no_grad()
    def catch_up_(self, table: torch.Tensor, rows: torch.Tensor, through: int) -> None:
        """Give `rows` of `table` the decay of the first `through` steps (call at the start of
        step `through` - 1, counted from the method's first step, with the rows it uses)."""
        rows = torch.unique(rows)
        table[rows] = table[rows] * self._owed(rows, through)
        self.received[rows] = through

    @torch.no_grad()
    def settled(self, table: torch.Tensor, through: int) -> torch.Tensor:
        """A copy of `table` with every row decayed through `through` steps (the state left
        alone)."""
        return table * self._owed(torch.arange(len(table)), through)

    @torch.no_grad()
    def flush_(self, table: torch.Tensor, through: int) -> None:
        """Bring every row up to date: call after the last step, with the number of steps."""
        self.catch_up_(table, torch.arange(len(table)), through)


"""tree_cc (Cho and Bengio 2014's tree-structured conditional computation) and tree_dense: the
path sums, sparse updates of the used nodes only, lazy decay against eager decay, fixed gates,
budgets, leaf entropy, determinism, a short training run and tree_dense's matched width."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from satbench.errors import SatbenchError
from satbench.generators.dataset import build_dataset
from satbench.methods.base import Setup
from satbench.methods.tree_cc import (
    TreeCC,
    TreeDense,
    TreeDenseParams,
    TreeParams,
    TreeTraining,
    matched_width,
    train_tree,
)
from satbench.models import MLP
from satbench.models.tree import LazyNodeDecay, TreeMLP, entropy_bits, path_node_ids
from satbench.rng import torch_generator
from satbench.specs import TaskSpec, TrainingContext, flag_of
from satbench.threads import training_threads

TASK = TaskSpec(n_vars=12, n_clauses=6, form="dnf", n_train=256, n_test=128, seed=3)
CONTEXT = TrainingContext(TASK, neurons=4, warmup_steps=30, expanded_steps=20,
                          learning_rate=1e-2, batch_size=64, seed=5)


@pytest.fixture(autouse=True)
def one_thread():
    """Train as satbench does (one intra-op thread): the same rounding, and no stalls."""
    with training_threads():
        yield


@pytest.fixture(scope="module")
def dataset():
    return build_dataset(TASK)


def tiny_tree(depth=3, d=5, h=3, o=2, seed=0) -> TreeMLP:
    """A tree whose every node is random (not the zero start), so path sums are visible."""
    model = TreeMLP(d, h, o, depth, torch_generator(seed, "t"), torch_generator(seed, "g"))
    with torch.no_grad():
        model.nodes.normal_(generator=torch_generator(seed, "nodes"))
    return model


def inputs(n, d, seed=1) -> torch.Tensor:
    return torch.randn(n, d, generator=torch_generator(seed, "x")).sign()


class EagerDecay:
    """The decay LazyNodeDecay defers: every node multiplied by the factor at every step."""

    def __init__(self, rate: float):
        self.factor = 1.0 - rate

    @torch.no_grad()
    def catch_up_(self, table, rows, through):
        table.mul_(self.factor)

    def settled(self, table, through):
        return table.detach().clone()

    def flush_(self, table, through):
        pass


def test_node_ids_are_level_offsets_plus_prefix_values():
    assert path_node_ids(2).tolist() == [[0, 1, 3], [0, 1, 4], [0, 2, 5], [0, 2, 6]]
    assert path_node_ids(1).tolist() == [[0, 1], [0, 2]]


def test_effective_weights_are_the_path_prefix_sums():
    depth, d, h, o = 3, 5, 3, 2
    model, x = tiny_tree(depth, d, h, o), inputs(40, d)
    pre = model.hidden_preactivations(x)
    groups = {}
    for i, example in enumerate(x):  # the definition, one example at a time
        bits = [int(model.gate_weight[g] @ example + model.gate_bias[g] > 0) for g in range(depth)]
        weight = torch.zeros(h * d)
        prefix = 0
        for level in range(depth + 1):
            weight += model.nodes[2**level - 1 + prefix].detach()
            if level < depth:
                prefix = 2 * prefix + bits[level]
        weight = weight.view(h, d)
        torch.testing.assert_close(pre[i], weight @ example + model.bias1, rtol=1e-5, atol=1e-5)
        groups.setdefault(prefix, ([], weight))[0].append(i)
    assert len(groups) > 2  # the check covers several leaves
    layers = model.first_layers(x)
    assert [rows.tolist() for rows, _, _ in layers] == [groups[k][0] for k in sorted(groups)]
    for (_, weight, bias), leaf in zip(layers, sorted(groups), strict=True):
        torch.testing.assert_close(weight, groups[leaf][1], rtol=1e-6, atol=1e-6)
        assert torch.equal(bias, model.bias1.detach())


def test_the_untrained_tree_is_the_dense_initial_model():
    task = TASK
    tree = TreeMLP(task.n_inputs, 6, 1, 3, torch_generator(5, "init"), torch_generator(5, "g"))
    dense = MLP(task.n_inputs, 6, 1, torch_generator(5, "init"))
    assert torch.equal(tree.nodes[0].view(6, -1), dense.fc1.weight)
    assert not tree.nodes[1:].any()
    assert torch.equal(tree.bias1, dense.fc1.bias)
    assert torch.equal(tree.fc2.weight, dense.fc2.weight)
    assert torch.equal(tree.fc2.bias, dense.fc2.bias)
    x = inputs(50, task.n_inputs)
    torch.testing.assert_close(tree(x), dense(x))


def test_each_gate_splits_the_training_inputs_in_half(dataset):
    model = TreeCC().build(TreeParams(), Setup(CONTEXT, dataset)).model
    train = dataset.inputs("train")
    bits = F.linear(train, model.gate_weight, model.gate_bias) > 0
    assert bits.sum(0).tolist() == [len(train) // 2] * model.depth


def test_a_step_changes_only_the_nodes_on_the_batch_paths():
    model, x = tiny_tree(depth=3, d=6, h=3, o=1), inputs(64, 6)
    y = (x[:, :1] > 0).float()
    training = TreeTraining(model, 1e-2, 0.0, LazyNodeDecay(len(model.nodes), 0.01))
    model.split_gates_(x)
    for done in range(3):  # SparseAdam's moments become non-zero on every path x reaches
        training.step(x, y, done)
    # Rows whose gate inputs sit at a gate's threshold (the median row of each gate: its bias is
    # minus that median) may switch leaf when the batch's matrix product rounds differently from
    # the full set's; only rows clear of every threshold are sure to keep their leaf.
    clear = (x @ model.gate_weight.T + model.gate_bias).abs().min(dim=1).values > 1e-3
    x_clear = x[clear]
    leaves = model.leaves(x_clear)
    batch = x_clear[(leaves == leaves[0]) | (leaves == leaves[1])][:8]  # at most two leaves
    used = torch.unique(model.paths[model.leaves(batch)])
    unused = torch.tensor([n for n in range(len(model.nodes)) if n not in used])
    assert len(unused) >= 7
    state = training.nodes.state[model.nodes]
    before = [t.detach().clone() for t in (model.nodes, state["exp_avg"], state["exp_avg_sq"])]
    assert before[1][unused].any(dim=1).sum() >= 5  # unused now, but with a state to keep
    received = training.decay.received.clone()
    training.step(batch, (batch[:, :1] > 0).float(), 3)
    after = [t.detach() for t in (model.nodes, state["exp_avg"], state["exp_avg_sq"])]
    for old, new in zip(before, after, strict=True):
        assert torch.equal(old[unused], new[unused])  # bitwise: values and both moments
        assert (old[used] != new[used]).any(dim=1).all()
    assert training.decay.received[used].tolist() == [4] * len(used)
    assert torch.equal(training.decay.received[unused], received[unused])


def test_lazy_decay_equals_eager_decay_under_random_use():
    n_nodes, width, steps, rate = 15, 6, 40, 0.02
    generator = torch_generator(0, "use")
    start = torch.randn(n_nodes, width, generator=generator)
    lazy_table, eager_table = start.clone(), start.clone()
    lazy, eager = LazyNodeDecay(n_nodes, rate), EagerDecay(rate)
    for done in range(steps):
        rows = torch.randint(0, n_nodes, (torch.randint(1, 5, (1,), generator=generator),),
                             generator=generator)
        update = torch.randn(len(rows), width, generator=generator)
        for decay, table in ((lazy, lazy_table), (eager, eager_table)):
            decay.catch_up_(table, rows, done + 1)
            table.index_add_(0, rows, update)  # an optimizer moving the used rows only
        if done == steps // 2:
            torch.testing.assert_close(lazy.settled(lazy_table, done + 1), eager_table,
                                       rtol=1e-5, atol=1e-6)
    lazy.flush_(lazy_table, steps)
    assert (lazy.received == steps).all()
    assert not torch.equal(start, eager_table)
    # Eager rounds once per step (up to 40 float32 roundings), lazy once per catch-up.
    torch.testing.assert_close(lazy_table, eager_table, rtol=1e-5, atol=1e-6)


def test_training_with_lazy_decay_equals_training_with_eager_decay(dataset):
    setup = Setup(CONTEXT, dataset)
    rate = 0.01  # large, so that the decay matters
    models = []
    for decay in (LazyNodeDecay(15, rate), EagerDecay(rate)):
        model = TreeCC().build(TreeParams(), setup).model
        train_tree(model, setup, 0, 25, decay)
        models.append(model)
    torch.testing.assert_close(models[0].nodes, models[1].nodes, rtol=1e-5, atol=1e-6)


def train(dataset):
    setup = Setup(CONTEXT, dataset)
    model = TreeCC().build(TreeParams(), setup).model
    late = TreeCC().train(model, TreeParams(), setup)
    return model, late


def test_training_keeps_the_gates_and_is_deterministic(dataset):
    fresh = TreeCC().build(TreeParams(), Setup(CONTEXT, dataset)).model
    first, late = train(dataset)
    second, _ = train(dataset)
    assert torch.equal(first.gate_weight, fresh.gate_weight)
    assert torch.equal(first.gate_bias, fresh.gate_bias)
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(first.nodes, fresh.nodes)
    assert late is not None and not torch.equal(late.nodes, first.nodes)


def test_training_lowers_the_train_loss(dataset):
    setup = Setup(CONTEXT, dataset)
    model = TreeCC().build(TreeParams(), setup).model
    x, y = dataset.inputs("train"), dataset.targets("train")
    with torch.no_grad():
        before = F.binary_cross_entropy_with_logits(model(x), y)
    steps = []
    TreeCC().train(model, TreeParams(), setup, on_step=steps.append)
    assert steps == [1] * CONTEXT.total_steps
    with torch.no_grad():
        after = F.binary_cross_entropy_with_logits(model(x), y)
    assert after < 0.8 * before
    entropy = TreeCC().outcomes(model, TreeParams(), CONTEXT, dataset)["leaf_entropy"]
    assert 2.5 < entropy <= 3.0  # the gates halve the training set; the test split is close


def test_budget_formulas():
    d, h, o, k = 7, 3, 2, 3
    model = TreeMLP(d, h, o, k, torch_generator(0, "init"), torch_generator(0, "g"))
    assert model.width == h
    assert model.macs_per_example() == h * d + o * h + k * d
    assert model.trainable_parameters() == 15 * h * d + h + o * h + o
    assert model.nnz_weights() == h * d + o * h  # only the root is non-zero at the start
    assert model.nnz_biases() == h + o
    with torch.no_grad():
        model.nodes[3].fill_(1.0)
    assert model.nnz_weights() == 2 * h * d + o * h


def test_leaf_entropy_in_bits():
    assert entropy_bits(torch.tensor([5, 5, 5, 5])) == pytest.approx(2.0)
    assert entropy_bits(torch.tensor([0, 7, 0, 0])) == 0.0
    assert entropy_bits(torch.tensor([1, 1, 2])) == pytest.approx(1.5)
    assert entropy_bits(torch.tensor([0, 3, 0, 3])) == pytest.approx(1.0)
    model = TreeMLP(2, 1, 1, 2, None, None)
    with torch.no_grad():
        model.gate_weight.copy_(torch.eye(2))  # the leaf is (x0 > 0, x1 > 0)
    x = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert model.leaves(x).tolist() == [3, 2, 1, 0]
    assert model.leaf_entropy(x) == pytest.approx(2.0)
    assert model.leaf_entropy(x[:1].repeat(5, 1)) == 0.0
    assert model.leaf_entropy(x[[0, 0, 1, 2]]) == pytest.approx(1.5)


@pytest.mark.parametrize("depth", [0, 11, True, 2.5, "3"])
def test_impossible_depths_are_one_line_errors(depth):
    for method, params in ((TreeCC(), TreeParams), (TreeDense(), TreeDenseParams)):
        with pytest.raises(SatbenchError, match=r"^depth: expected an integer"):
            method.check(params(depth=depth), CONTEXT)


def test_a_node_decay_outside_the_unit_factor_is_an_error():
    with pytest.raises(SatbenchError, match=r"^node_decay: "):
        TreeCC().check(TreeParams(node_decay=-1e-3), CONTEXT)
    with pytest.raises(SatbenchError, match=r"^node_decay: "):
        TreeCC().check(TreeParams(node_decay=1000.0), CONTEXT)
    TreeCC().check(TreeParams(depth=10, node_decay=0.0), CONTEXT)


def test_tree_dense_matches_tree_cc_parameters(dataset):
    (depth_cc,) = [f for f in dataclasses.fields(TreeParams) if f.name == "depth"]
    (depth_dense,) = dataclasses.fields(TreeDenseParams)
    assert (depth_cc.type, flag_of(depth_cc), depth_cc.default) == \
        (depth_dense.type, flag_of(depth_dense), depth_dense.default)
    d, h, o = TASK.n_inputs, CONTEXT.neurons, TASK.n_outputs
    for depth in (1, 3, 6):
        tree = TreeCC().build(TreeParams(depth=depth), Setup(CONTEXT, dataset)).model
        width = TreeDense().hidden_width(TreeDenseParams(depth=depth), CONTEXT)
        expected = round((tree.trainable_parameters() - o) / (d + 1 + o))
        assert width == expected == matched_width(d, h, o, depth)
        dense = TreeDense().build(TreeDenseParams(depth=depth), Setup(CONTEXT, dataset)).model
        assert isinstance(dense, MLP) and dense.width == width
        gap = abs(dense.trainable_parameters() - tree.trainable_parameters())
        assert gap <= (d + 1 + o) / 2
    assert TreeDense.budget == "none" and TreeDense.compare_with == ("dense",)
    assert TreeDense.batchable and not TreeCC.batchable
    assert TreeCC.budget == "macs_per_example" and TreeCC.starts_from is None
    assert TreeCC.compare_with == ("dense", "tree_dense")

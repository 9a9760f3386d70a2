"""fixed_classifier (Hoffer, Hubara, Soudry 2018): a fixed Hadamard or orthogonal head that never
trains, the dense budget reinvested exactly in hidden neurons, counts, the official forward
formula, the orthogonal fallback, determinism and an end-to-end train."""

import copy

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from satbench.generators.dataset import build_dataset
from satbench.methods.base import Setup
from satbench.methods.dense import Dense
from satbench.methods.fixed_classifier import FixedClassifier, reinvested_width
from satbench.metrics import bce_loss
from satbench.models.fixed_classifier import (
    EPS,
    FixedClassifierMLP,
    fixed_projection,
    hadamard_rows,
    random_orthogonal,
    rows_repeat,
    sylvester_hadamard,
)
from satbench.rng import torch_generator
from satbench.specs import TaskSpec, TrainingContext
from satbench.threads import training_threads

METHOD = FixedClassifier()


@pytest.fixture(autouse=True)
def one_thread():
    """Train as the trainers do: on satbench's fixed thread count (satbench.threads)."""
    with training_threads():
        yield


def context(target="clauses", neurons=4, n_vars=12, n_clauses=6, encoding="pm1", steps=(10, 10),
            seed=5) -> TrainingContext:
    rows = (128, 64) if n_vars >= 8 else (32, 16)  # small n: only 2^n distinct assignments
    task = TaskSpec(n_vars=n_vars, n_clauses=n_clauses, encoding=encoding, target=target,
                    n_train=rows[0], n_test=rows[1], seed=3)
    return TrainingContext(task, neurons=neurons, warmup_steps=steps[0], expanded_steps=steps[1],
                           learning_rate=1e-2, batch_size=rows[0] // 4, seed=seed)


def build(ctx: TrainingContext, dataset=None) -> FixedClassifierMLP:
    return METHOD.build(METHOD.params(), Setup(ctx, dataset)).model


def trained(ctx: TrainingContext, dataset) -> FixedClassifierMLP:
    model = build(ctx, dataset)
    METHOD.train(model, METHOD.params(), Setup(ctx, dataset))
    return model


def test_the_projection_never_changes_while_fc1_scale_and_bias_train():
    ctx = context()
    dataset = build_dataset(ctx.task)
    model = build(ctx, dataset)
    assert "projection" in dict(model.named_buffers())
    assert all(p is not model.projection for p in model.parameters())
    before = copy.deepcopy(model)
    METHOD.train(model, METHOD.params(), Setup(ctx, dataset))
    assert torch.equal(model.projection, before.projection)  # bitwise
    for name in ("fc1.weight", "fc1.bias", "scale", "bias"):
        assert not torch.equal(model.get_parameter(name), before.get_parameter(name)), name


@pytest.mark.parametrize("target, neurons, n_vars, n_clauses, encoding, full, remainder", [
    ("formula", 4, 12, 6, "pm1", 4, 4),       # o = 1: one partial neuron of h inputs
    ("clauses", 4, 12, 6, "pm1", 6, 0),       # h*o = 24 = 2*d: two full neurons, r == 0
    ("clauses", 5, 12, 6, "pm1", 7, 6),       # 30 = 2*12 + 6
    ("clauses", 3, 12, 8, "literals", 4, 0),  # d = 2n = 24, h*o = 24
    ("clauses", 4, 6, 10, "pm1", 10, 4),      # o > d: 40 = 6*6 + 4
    ("clauses", 8, 24, 8, "pm1", 10, 16),     # 64 = 2*24 + 16
])
def test_nnz_weights_equal_dense_exactly(target, neurons, n_vars, n_clauses, encoding, full,
                                         remainder):
    ctx = context(target, neurons, n_vars, n_clauses, encoding)
    task = ctx.task
    d, o = task.n_inputs, task.n_outputs
    assert reinvested_width(neurons, d, o) == (full, remainder)
    dense = Dense().build(Dense.params(), Setup(ctx, None)).model
    model = build(ctx)
    assert model.nnz_weights() == dense.nnz_weights() == neurons * d + o * neurons
    width = full + (remainder > 0)
    assert model.width == METHOD.hidden_width(METHOD.params(), ctx) == width
    kept = model.fc1.mask.sum(dim=1)
    assert (kept[:full] == d).all()
    assert remainder == 0 or kept[full] == remainder
    assert model.macs_per_example() == model.nnz_weights() + o * width
    assert model.trainable_parameters() == model.nnz_weights() + width + 1 + o
    assert model.nnz_biases() == width + o
    ((rows, w1, b1),) = model.first_layers(torch.zeros(3, d))
    assert rows is None and torch.equal(w1, model.fc1.effective_weight())
    assert torch.equal(b1, model.fc1.bias)


def test_the_partial_neurons_inputs_are_a_seeded_draw():
    masks = [build(context("formula", seed=s)).fc1.mask[-1] for s in (0, 0, 1)]
    assert torch.equal(masks[0], masks[1]) and not torch.equal(masks[0], masks[2])


@pytest.mark.parametrize("target", ["formula", "clauses"])
def test_forward_is_the_official_formula(target):
    ctx = context(target, neurons=5)
    model = build(ctx)
    x = torch.randn(7, ctx.task.n_inputs, generator=torch_generator(0, "x"))
    o, width = ctx.task.n_outputs, model.width
    size = 2 ** int(np.ceil(np.log2(max(width, o))))
    proj = torch.as_tensor(scipy.linalg.hadamard(size)[:o, :width], dtype=torch.float32)
    assert model.projection_kind == "hadamard" and torch.equal(model.projection, proj)
    with torch.no_grad():
        hidden = F.relu(x @ (model.fc1.weight * model.fc1.mask).T + model.fc1.bias)
        hidden = hidden / (hidden.norm(2, -1, keepdim=True) + EPS)
        expected = -model.scale * F.linear(hidden, proj) + model.bias
        if o == 1:  # Hadamard row 0 is all ones
            assert torch.allclose(expected, -model.scale * hidden.sum(1, keepdim=True)
                                  + model.bias)
        assert torch.allclose(model(x), expected, atol=1e-6)
    assert torch.allclose(model.scale, torch.tensor([o**-0.5]))
    assert model.bias.abs().max() <= o**-0.5


def test_sylvester_hadamard_is_scipys():
    for size in (1, 2, 4, 32):
        assert np.array_equal(sylvester_hadamard(size), scipy.linalg.hadamard(size))


def test_hadamard_rows_repeat_only_beyond_the_width():
    assert not rows_repeat(hadamard_rows(6, 5)) and not rows_repeat(hadamard_rows(8, 8))
    assert rows_repeat(hadamard_rows(8, 4))  # rows i and i + 4 agree on the first 4 columns
    _, kind = fixed_projection(6, 5, torch_generator(0, "fixed-classifier"))
    assert kind == "hadamard"


def test_repeated_rows_fall_back_to_a_seeded_orthogonal_projection():
    ctx = context("clauses", neurons=1)  # d = 12, o = 6: width 2, six rows of two columns
    model = build(ctx)
    assert model.width == 2 and model.projection_kind == "orthogonal"
    gram = model.projection.T.double() @ model.projection.double()
    assert torch.allclose(gram, torch.eye(2, dtype=torch.float64), atol=1e-6)
    assert torch.equal(model.projection, build(ctx).projection)
    assert not torch.equal(model.projection, build(ctx.replace(seed=6)).projection)


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (4, 4)])
def test_random_orthogonal_has_orthonormal_rows_or_columns(shape):
    matrix = random_orthogonal(*shape, torch_generator(0, "fixed-classifier")).double()
    small = min(shape)
    product = matrix @ matrix.T if shape[0] <= shape[1] else matrix.T @ matrix
    assert matrix.shape == shape
    assert torch.allclose(product, torch.eye(small, dtype=torch.float64), atol=1e-6)


def test_same_seed_gives_bitwise_the_same_trained_model():
    ctx = context()
    dataset = build_dataset(ctx.task)
    a, b = trained(ctx, dataset), trained(ctx, dataset)
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    c = trained(ctx.replace(seed=6), dataset)
    assert not torch.equal(a.fc1.weight, c.fc1.weight)


@pytest.mark.parametrize("target", ["formula", "clauses"])
def test_training_lowers_the_train_loss(target):
    ctx = context(target, neurons=8, steps=(60, 60))
    dataset = build_dataset(ctx.task)
    model = build(ctx, dataset)
    inputs, targets = dataset.inputs("train"), dataset.targets("train")
    with torch.no_grad():
        before = bce_loss(model(inputs), targets)
    METHOD.train(model, METHOD.params(), Setup(ctx, dataset))
    with torch.no_grad():
        after = bce_loss(model(inputs), targets)
    assert after < 0.8 * before
    scale = METHOD.outcomes(model, METHOD.params(), ctx, dataset)["classifier_scale"]
    assert scale == model.scale.detach().item() and scale != ctx.task.n_outputs**-0.5

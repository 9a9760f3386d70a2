"""MaskedLinear and MLP: deterministic init, masking, counting, state dicts."""

import copy
import io
import pickle

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from satbench.errors import SatbenchError
from satbench.models import MLP, MaskedLinear
from satbench.rng import torch_generator
from satbench.testing import dense_mlps


def _layer(seed=0, out_features=4, in_features=6, density=0.5):
    layer = MaskedLinear(out_features, in_features, generator=torch_generator(seed, "layer"))
    mask = torch.rand(out_features, in_features, generator=torch_generator(seed, "mask")) < density
    layer.set_mask(mask)
    return layer


def test_init_is_deterministic_bounded_and_leaves_the_global_rng_alone():
    before = torch.random.get_rng_state()
    a = MLP(10, 5, 2, torch_generator(3, "init"))
    b = MLP(10, 5, 2, torch_generator(3, "init"))
    c = MLP(10, 5, 2, torch_generator(4, "init"))
    assert torch.equal(torch.random.get_rng_state(), before)
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    assert not torch.equal(a.fc1.weight, c.fc1.weight)
    # nn.Linear's default bound: 1/sqrt(fan_in) for weight and bias alike.
    assert a.fc1.weight.abs().max() <= 10**-0.5 and a.fc1.bias.abs().max() <= 10**-0.5
    assert a.fc2.weight.abs().max() <= 5**-0.5 and a.fc2.bias.abs().max() <= 5**-0.5
    assert a.fc1.is_dense and a.fc2.is_dense


def test_shapes_width_and_counts():
    model = MLP(7, 3, 2, torch_generator(0, "init"))
    assert (model.n_inputs, model.width, model.n_outputs) == (7, 3, 2)
    assert model.fc1.weight.shape == (3, 7) and model.fc2.weight.shape == (2, 3)
    assert model.nnz_weights() == 3 * 7 + 2 * 3
    assert model.nnz_biases() == 3 + 2
    assert model(torch.zeros(4, 7)).shape == (4, 2)
    no_bias = MLP(7, 3, 2, torch_generator(0, "init"), bias=False)
    assert no_bias.fc1.bias is None and no_bias.nnz_biases() == 0


@pytest.mark.parametrize("args", [(0, 3, 1), (4, 0, 1), (4, 3, -1), (4.0, 3, 1), (True, 3, 1)])
def test_bad_sizes_are_user_errors(args):
    with pytest.raises(SatbenchError):
        MLP(*args, torch_generator(0, "init"))


def test_forward_uses_the_masked_weight_and_pruned_gradients_are_zero():
    layer = _layer()
    x = torch.randn(5, 6, generator=torch_generator(0, "x"))
    expected = F.linear(x, layer.weight * layer.mask, layer.bias)
    assert torch.allclose(layer(x), expected)
    layer(x).pow(2).sum().backward()
    assert (layer.weight.grad[~layer.mask] == 0).all()
    assert (layer.weight.grad[layer.mask] != 0).any()


def test_a_corrupted_pruned_weight_never_reaches_the_output():
    layer = _layer()
    x = torch.randn(5, 6, generator=torch_generator(0, "x"))
    clean = layer(x)
    with torch.no_grad():
        layer.weight[~layer.mask] = float("inf")
    assert torch.equal(layer(x), clean)  # no NaN from inf * 0
    nnz = int(layer.mask.sum())
    assert layer.nnz() == nnz
    layer.apply_mask_()
    assert (layer.weight[~layer.mask] == 0).all()


def test_exact_zeros_do_not_count():
    layer = MaskedLinear(2, 3, generator=torch_generator(0, "layer"))
    with torch.no_grad():
        layer.weight[0, 0] = 0.0
    assert layer.nnz() == 5


def test_set_mask_checks_its_shape_and_none_means_dense():
    layer = _layer()
    with pytest.raises(SatbenchError, match="mask: expected shape"):
        layer.set_mask(torch.ones(3, 3, dtype=torch.bool))
    layer.set_mask(None)
    assert layer.is_dense


def test_state_dict_round_trip_keeps_masks():
    model = MLP(6, 4, 2, torch_generator(1, "init"))
    model.fc1.set_mask(torch.rand(4, 6, generator=torch_generator(1, "m")) < 0.5)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    loaded = MLP(6, 4, 2, None)
    loaded.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(loaded.fc1.mask, model.fc1.mask)
    assert loaded.nnz_weights() == model.nnz_weights()
    x = torch.randn(3, 6, generator=torch_generator(1, "x"))
    assert torch.equal(loaded(x), model(x))


def test_loading_a_state_dict_with_values_at_pruned_positions_cannot_revive_them():
    layer = _layer()
    state = {k: v.clone() for k, v in layer.state_dict().items()}
    state["weight"][~state["mask"]] = 7.0
    layer.load_state_dict(state)
    assert (layer.weight[~layer.mask] == 0).all()
    assert layer.nnz() == int(layer.mask.sum())


def test_models_deep_copy_and_pickle():
    model = MLP(6, 4, 2, torch_generator(1, "init"))
    model.fc1.set_mask(torch.rand(4, 6, generator=torch_generator(1, "m")) < 0.5)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert torch.equal(clone.fc1.mask, model.fc1.mask)
        state = clone.state_dict()
        state["fc1.weight"] = torch.full_like(state["fc1.weight"], 3.0)
        clone.load_state_dict(state)  # the copied hook still guards the copy
        assert clone.fc1.nnz() == int(model.fc1.mask.sum())


@given(dense_mlps(premasked=None))
@settings(max_examples=30, deadline=None)
def test_nnz_matches_the_effective_weights(model):
    expected = sum(int((layer.weight * layer.mask != 0).sum()) for layer in (model.fc1, model.fc2))
    assert model.nnz_weights() == expected
    assert model.nnz_weights() <= int(model.fc1.mask.sum() + model.fc2.mask.sum())

"""Masks stay fixed after FPE: training with weight decay, stale optimizer state, in-place
corruption and state-dict loading never revive a pruned weight, so nnz stays at the budget."""

import io

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from satbench.models import MLP, SplitContext, expand
from satbench.rng import numpy_rng, torch_generator
from satbench.testing import fpe_cases

OPTIMIZERS = {
    "adam-l2": lambda params: torch.optim.Adam(params, lr=1e-2, weight_decay=1e-2),
    "adamw": lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1),
}


def _data(n_inputs: int, n_outputs: int, seed: int):
    generator = torch_generator(seed, "test-data")
    x = torch.randint(0, 2, (32, n_inputs), generator=generator).float() * 2 - 1
    y = torch.randint(0, 2, (32, n_outputs), generator=generator).float()
    return x, y


def _pruned(model: MLP):
    return [~layer.mask for layer in (model.fc1, model.fc2)]


def _step(model, optimizer, x, y):
    loss = F.binary_cross_entropy_with_logits(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@given(case=fpe_cases(), splitter=st.sampled_from(["clause", "random", "random-shared",
                                                   "contiguous"]))
@settings(max_examples=10, deadline=None)
def test_training_never_revives_a_pruned_weight(optimizer, case, splitter):
    expansion = expand(case.dense, case.alpha, splitter, case.context, case.rng(),
                       case.output_scale)
    model = expansion.model
    masks = [layer.mask.clone() for layer in (model.fc1, model.fc2)]
    opt = OPTIMIZERS[optimizer](model.parameters())
    x, y = _data(model.n_inputs, model.n_outputs, case.seed)
    for _ in range(5):
        _step(model, opt, x, y)
        # A fresh optimizer sees exactly-zero gradients and weights at pruned positions, so even
        # before apply_mask_ nothing there moves (L2 and decoupled decay alike).
        for layer in (model.fc1, model.fc2):
            assert (layer.weight[~layer.mask] == 0).all()
        model.apply_mask_()
        assert model.nnz_weights() == expansion.budget
    for layer, mask in zip((model.fc1, model.fc2), masks, strict=True):
        assert torch.equal(layer.mask, mask)


def _expanded(seed=0):
    dense = MLP(8, 4, 1, torch_generator(seed, "init"))
    return expand(dense, 2, "random", SplitContext.without_clauses(8), numpy_rng(seed, "t"))


def test_stale_momentum_moves_raw_weights_but_never_the_output_and_apply_mask_resets_them():
    expansion = _expanded()
    model = expansion.model
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-2)
    x, y = _data(8, 1, 0)
    _step(model, opt, x, y)
    # Plant momentum at pruned positions, as if the state came from the dense model.
    for layer in (model.fc1, model.fc2):
        opt.state[layer.weight]["exp_avg"][~layer.mask] = 1.0
        opt.state[layer.weight]["exp_avg_sq"][~layer.mask] = 1.0
    _step(model, opt, x, y)
    revived = (model.fc1.weight[~model.fc1.mask] != 0).any()
    assert revived  # the optimizer did move them...
    assert model.nnz_weights() == expansion.budget  # ...but the layer never computes with them
    reference = MLP.from_tensors(model.fc1.effective_weight().detach(), model.fc1.bias.detach(),
                                 model.fc2.effective_weight().detach(), model.fc2.bias.detach())
    assert torch.equal(model(x), reference(x))
    model.apply_mask_()
    assert all((layer.weight[~layer.mask] == 0).all() for layer in (model.fc1, model.fc2))


def test_corruption_then_load_of_a_saved_state_dict_restores_the_pruned_zeros():
    expansion = _expanded()
    model = expansion.model
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.fc2.weight[~model.fc2.mask] = 3.0
        model.fc1.weight[~model.fc1.mask] = -3.0
    assert model.nnz_weights() == expansion.budget
    model.load_state_dict(saved)
    assert all((layer.weight[~layer.mask] == 0).all() for layer in (model.fc1, model.fc2))
    # A state dict that itself carries values at pruned positions cannot revive them either.
    corrupted = {k: v.clone() for k, v in saved.items()}
    corrupted["fc1.weight"][~corrupted["fc1.mask"]] = 5.0
    model.load_state_dict(corrupted)
    assert (model.fc1.weight[~model.fc1.mask] == 0).all()
    assert model.nnz_weights() == expansion.budget


def test_save_load_round_trip_keeps_masks_and_outputs():
    expansion = _expanded()
    buffer = io.BytesIO()
    torch.save(expansion.model.state_dict(), buffer)
    buffer.seek(0)
    loaded = MLP(8, 8, 1, None)
    loaded.load_state_dict(torch.load(buffer, weights_only=True))
    for a, b in ((loaded.fc1, expansion.model.fc1), (loaded.fc2, expansion.model.fc2)):
        assert torch.equal(a.mask, b.mask)
    assert loaded.nnz_weights() == expansion.budget
    x, _ = _data(8, 1, 1)
    assert torch.equal(loaded(x), expansion.model(x))

"""satbench's Adam, AdamW and SparseAdam: torch.optim's steps operation for operation, with a
correctly rounded square root (satbench.models.adam)."""

import numpy as np
import pytest
import torch

from satbench.models import adam


def _trained(optimizer_class, sparse: bool, steps: int = 25, **options) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(12, 5, generator=generator))
    bias = torch.nn.Parameter(torch.randn(5, generator=generator))
    params = [weight] if sparse else [weight, bias]
    optimizer = optimizer_class(params, lr=0.05, **options)
    for step in range(steps):
        rows = torch.tensor([step % 12, (3 * step + 1) % 12])
        x = torch.randn(2, 5, generator=generator)
        if sparse:
            out = torch.nn.functional.embedding(rows, weight, sparse=True)
        else:
            out = weight[rows] + bias
        loss = ((out * x).sum(1) - 1).pow(2).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return [p.detach().clone() for p in params]


CASES = [
    (torch.optim.Adam, adam.Adam, False, {}),
    (torch.optim.Adam, adam.Adam, False, {"weight_decay": 0.1}),
    (torch.optim.AdamW, adam.AdamW, False, {}),
    (torch.optim.AdamW, adam.AdamW, False, {"weight_decay": 0.3}),
    (torch.optim.SparseAdam, adam.SparseAdam, True, {}),
]


@pytest.mark.parametrize(("theirs", "ours", "sparse", "options"), CASES)
def test_with_torchs_square_root_the_step_is_torchs_bitwise(theirs, ours, sparse, options,
                                                            monkeypatch):
    """The only difference from torch.optim is the square root: put torch's back, and every
    weight comes out bitwise equal after many steps."""
    monkeypatch.setattr(adam, "exact_sqrt", torch.sqrt)
    for mine, reference in zip(_trained(ours, sparse, **options),
                               _trained(theirs, sparse, **options), strict=True):
        assert torch.equal(mine, reference)


@pytest.mark.parametrize(("theirs", "ours", "sparse", "options"), CASES)
def test_the_correct_root_changes_the_weights_by_round_off_only(theirs, ours, sparse, options):
    for mine, reference in zip(_trained(ours, sparse, **options),
                               _trained(theirs, sparse, **options), strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-5)


def test_exact_sqrt_is_the_correctly_rounded_root():
    values = np.abs(np.random.default_rng(0).standard_normal(1 << 16)).astype(np.float32)
    values = np.concatenate([values, values * 1e-40, values * 1e30, [0.0, np.inf]]
                            ).astype(np.float32)
    got = adam.exact_sqrt(torch.from_numpy(values)).numpy()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.sqrt(values))  # numpy's float32 root is IEEE's


@pytest.mark.slow
def test_any_faithful_float64_root_rounds_to_the_correct_float32_root():
    """Why exact_sqrt holds on every CPU: VML's float64 root may be off by an ulp, and for every
    float32 x both neighbours of the correctly rounded float64 sqrt(x) still round to the
    correctly rounded float32 root. [1, 4) and the subnormals cover every float32, since
    sqrt(4x) = 2 sqrt(x) scales both roots exactly."""
    bits = np.concatenate([np.arange(0x3F800000, 0x40800000, dtype=np.uint32),
                           np.arange(1, 0x00800000, dtype=np.uint32)])
    x = bits.view(np.float32)
    root = np.sqrt(x.astype(np.float64))
    want = np.sqrt(x)
    for neighbour in (root, np.nextafter(root, np.inf), np.nextafter(root, -np.inf)):
        assert np.array_equal(neighbour.astype(np.float32), want)

"""FPELinear in every torch format against an independent masked reference: outputs, gradients,
training, conversions, state dicts and format selection. The Triton kernel is tested in
test_kernels_triton.py; here child_label runs its pure-torch implementation."""

import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from satbench.errors import SatbenchError
from satbench.kernels import (
    CPU_PER_PARENT_FORMAT,
    FORMATS,
    FPELinear,
    fpe_mlp,
    select_format,
    shared_partition,
)
from satbench.kernels import formats as formats_module
from satbench.models import MLP, MaskedLinear, SplitContext, expand
from satbench.models.training import make_optimizer, train_steps
from satbench.rng import numpy_rng, torch_generator

TOLERANCE = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-9, atol=1e-9)}


def make_parts(seed, h, d, alpha, *, shared, balanced=False, prune=0.0, dead_column=False,
               bias=True, dtype=torch.float32):
    """Random parent weights, child labels (-1 = pruned) and bias, from satbench.rng streams."""
    rng = numpy_rng(seed, "test-kernels")
    generator = torch_generator(seed, "test-kernels")
    if balanced:
        rows = [rng.permutation(np.arange(d) % alpha) for _ in range(1 if shared else h)]
    else:
        rows = [rng.integers(0, alpha, d) for _ in range(1 if shared else h)]
    labels = np.array(rows * h if shared else rows, dtype=np.int64)
    pruned = rng.random((h, d)) < prune
    if dead_column:
        pruned[:, rng.integers(d)] = True
    labels = np.where(pruned, -1, labels).astype(np.int8)
    weight = torch.randn(h, d, generator=generator, dtype=torch.float64).to(dtype)
    b = torch.randn(alpha * h, generator=generator, dtype=torch.float64).to(dtype) if bias else None
    return weight, labels, b


def reference(weight, labels, alpha, bias) -> MaskedLinear:
    """The expanded layer built by hand: row i*alpha + c holds parent i's weights on child c."""
    h, d = weight.shape
    expanded = torch.zeros(alpha * h, d, dtype=weight.dtype)
    mask = torch.zeros(alpha * h, d, dtype=torch.bool)
    i, j = np.nonzero(labels >= 0)
    rows = torch.as_tensor(i * alpha + labels[i, j].astype(np.int64))
    expanded[rows, torch.as_tensor(j)] = weight[torch.as_tensor(i), torch.as_tensor(j)]
    mask[rows, torch.as_tensor(j)] = True
    layer = MaskedLinear(alpha * h, d, bias=bias is not None, dtype=weight.dtype)
    with torch.no_grad():
        layer.weight.copy_(expanded)
        if bias is not None:
            layer.bias.copy_(bias)
    layer.set_mask(mask)
    return layer


def parent_grad(ref: MaskedLinear, labels, alpha) -> torch.Tensor:
    """The reference's (alpha*h, d) weight gradient folded back to the parent's (h, d) shape."""
    h, d = labels.shape
    grad = ref.weight.grad.view(h, alpha, d)
    index = torch.as_tensor(np.maximum(labels, 0).astype(np.int64))[:, None, :]
    return grad.gather(1, index).squeeze(1).masked_fill(torch.as_tensor(labels < 0), 0.0)


def run_both(layer: FPELinear, ref: MaskedLinear, x: torch.Tensor, seed: int):
    """Outputs and gradients (x, weight in input order, bias) of the layer and the reference."""
    results = []
    for module in (layer, ref):
        xx = x.clone().requires_grad_()
        y = module(xx)
        grad_y = torch.randn(y.shape, generator=torch_generator(seed, "grad-y"),
                             dtype=torch.float64).to(y.dtype)
        y.backward(grad_y)
        bias_grad = None if module.bias is None else module.bias.grad
        results.append((y.detach(), xx.grad, module.weight.grad, bias_grad))
    return results


def assert_close(actual, expected, dtype):
    torch.testing.assert_close(actual, expected, **TOLERANCE[dtype])


def assert_matches_reference(layer, weight, labels, alpha, bias, x, seed):
    ref = reference(weight, labels, alpha, bias)
    (y, gx, gw, gb), (ry, rgx, rgw, rgb) = run_both(layer, ref, x, seed)
    dtype = weight.dtype
    assert_close(y, ry, dtype)
    assert_close(gx, rgx, dtype)
    gw = gw[:, torch.argsort(layer.perm)]  # storage order -> input order
    assert_close(gw, parent_grad(ref, labels, alpha), dtype)
    assert bool((gw[torch.as_tensor(labels < 0)] == 0).all())  # exactly zero where pruned
    if bias is not None:
        assert_close(gb, rgb, dtype)


@st.composite
def layer_cases(draw):
    d = draw(st.integers(1, 24))
    return dict(
        seed=draw(st.integers(0, 2**32 - 1)), d=d,
        # small batches, and batches past the grouped format's switch to a transposed grad_x
        batch=draw(st.one_of(st.integers(0, 9), st.integers(60, 70))),
        h=draw(st.integers(1, 8)), alpha=draw(st.integers(1, min(d, 6))),
        shared=draw(st.booleans()), balanced=draw(st.booleans()),
        prune=draw(st.sampled_from([0.0, 0.3, 0.8])), dead_column=draw(st.booleans()),
        bias=draw(st.booleans()), dtype=draw(st.sampled_from([torch.float32, torch.float64])),
    )


@given(case=layer_cases())
@settings(max_examples=60, deadline=None)
def test_every_format_matches_the_masked_reference(case):
    weight, labels, bias = make_parts(
        case["seed"], case["h"], case["d"], case["alpha"], shared=case["shared"],
        balanced=case["balanced"], prune=case["prune"], dead_column=case["dead_column"],
        bias=case["bias"], dtype=case["dtype"])
    x = torch.randn(case["batch"], case["d"], generator=torch_generator(case["seed"], "x"),
                    dtype=torch.float64).to(case["dtype"])
    shared = shared_partition(torch.as_tensor(labels)) is not None
    formats = [f for f in FORMATS if f != "grouped" or shared] + ["auto"]
    for fmt in formats:
        layer = FPELinear(weight, labels, case["alpha"], bias, format=fmt, backend="torch",
                          batch=case["batch"])
        assert_matches_reference(layer, weight, labels, case["alpha"], bias, x, case["seed"])
        expected = fmt if fmt != "auto" else select_format(
            shared, "cpu", d=case["d"], h=case["h"], alpha=case["alpha"], batch=case["batch"])
        assert (layer.format_used, layer.backend_used) == (expected, "torch")


@pytest.mark.parametrize("fmt", ["masked", "grouped", "child_label", "csr"])
def test_leading_dimensions_and_no_grad(fmt):
    weight, labels, bias = make_parts(3, 5, 12, 3, shared=True, balanced=True, prune=0.3)
    layer = FPELinear(weight, labels, 3, bias, format=fmt, backend="torch")
    ref = reference(weight, labels, 3, bias)
    x = torch.randn(2, 4, 12, generator=torch_generator(0, "x"))
    with torch.no_grad():
        torch.testing.assert_close(layer(x), ref(x))
    assert layer(x).shape == (2, 4, 15)


@pytest.mark.parametrize("batch", [5, 80])
@pytest.mark.parametrize("dead_column", [False, True])
def test_grouped_uses_one_batched_product_for_equal_groups_else_a_loop(dead_column, batch):
    weight, labels, bias = make_parts(4, 6, 12, 4, shared=True, balanced=True,
                                      dead_column=dead_column)
    layer = FPELinear(weight, labels, 4, bias, format="grouped")
    assert bool(layer._grouped.equal) is not dead_column  # 4 groups of 3, unless one input died
    x = torch.randn(batch, 12, generator=torch_generator(0, "x"))
    assert_matches_reference(layer, weight, labels, 4, bias, x, 0)


SPLITS = ("random", "random-shared", "contiguous", "clause")


def _expansion(split, alpha=3, seed=0, n_vars=9):
    from satbench.generators.random_formula import random_formula

    formula = random_formula(n_vars, 6, 3, "cnf", seed)
    context = SplitContext.for_formula(formula)
    dense = MLP(n_vars, 6, 1, torch_generator(seed, "init"))
    return expand(dense, alpha, split, context, numpy_rng(seed, "split"))


@pytest.mark.parametrize("split", SPLITS)
def test_the_same_model_gives_the_same_outputs_in_every_format(split):
    expansion = _expansion(split)
    model = expansion.model
    x = torch.randn(33, model.n_inputs, generator=torch_generator(1, "x"))
    expected = model(x)
    shared = split != "random"
    for fmt in ["auto", *FORMATS]:
        if fmt == "grouped" and not shared:
            with pytest.raises(SatbenchError, match="shared split"):
                fpe_mlp(model, expansion.alpha, fmt)
            continue
        converted = fpe_mlp(model, expansion.alpha, fmt, backend="torch", batch=len(x))
        torch.testing.assert_close(converted(x), expected, rtol=1e-5, atol=1e-6)
        assert converted.nnz_weights() == model.nnz_weights() == expansion.budget
        if fmt == "auto":
            layer = converted.fc1
            assert layer.format_used == select_format(
                shared, "cpu", d=layer.in_features, h=layer.parents, alpha=layer.alpha,
                batch=len(x))


@pytest.mark.parametrize("fmt", ["masked", "grouped", "child_label", "csr"])
def test_training_in_any_format_keeps_pruned_weights_at_zero_and_matches_masked(fmt):
    expansion = _expansion("random-shared", alpha=3, seed=2)
    reference_model = MLP.from_tensors(
        expansion.model.fc1.weight.detach(), expansion.model.fc1.bias.detach(),
        expansion.model.fc2.weight.detach(), expansion.model.fc2.bias.detach(),
        expansion.model.fc1.mask, expansion.model.fc2.mask)
    model = fpe_mlp(expansion.model, 3, fmt, backend="torch")
    generator = torch_generator(3, "data")
    inputs = torch.randint(0, 2, (64, 9), generator=generator).float() * 2 - 1
    targets = torch.randint(0, 2, (64, 1), generator=generator).float()
    for m in (model, reference_model):
        optimizer = make_optimizer(m, 0.05, weight_decay=0.01)
        train_steps(m, optimizer, inputs, targets, first_step=0, steps=5, batch_size=16, seed=4)
    layer = model.fc1
    pruned = layer.child < 0
    assert pruned.any()
    assert bool((layer.weight.detach()[pruned] == 0).all())
    torch.testing.assert_close(layer.to_masked().weight, reference_model.fc1.weight,
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model(inputs), reference_model(inputs), rtol=1e-5, atol=1e-5)


@given(case=layer_cases())
@settings(max_examples=30, deadline=None)
def test_from_masked_and_to_masked_round_trip(case):
    weight, labels, bias = make_parts(case["seed"], case["h"], case["d"], case["alpha"],
                                      shared=case["shared"], prune=case["prune"],
                                      bias=case["bias"], dtype=case["dtype"])
    ref = reference(weight, labels, case["alpha"], bias)
    layer = FPELinear.from_masked_linear(ref, case["alpha"], backend="torch")
    assert torch.equal(layer.labels(), torch.as_tensor(labels))
    back = layer.to_masked()
    assert torch.equal(back.mask, ref.mask)
    assert torch.equal(back.effective_weight(), ref.effective_weight())
    assert (back.bias is None) == (bias is None)
    if bias is not None:
        assert torch.equal(back.bias, ref.bias)
    assert layer.nnz() == ref.nnz()


def test_from_masked_rejects_a_position_live_in_two_children():
    weight = torch.ones(4, 3)
    mask = torch.zeros(4, 3, dtype=torch.bool)
    mask[0, 1] = mask[1, 1] = True  # parent 0, input 1: children 0 and 1
    with pytest.raises(SatbenchError, match=r"input 1 of parent 0 is live in children \[0, 1\]"):
        FPELinear.from_masked(weight, mask, 2)
    with pytest.raises(SatbenchError, match="divisor"):
        FPELinear.from_masked(weight, mask, 3)


def test_auto_picks_by_split_device_and_size():
    assert select_format(True, "cpu") == "grouped"  # no size given
    assert select_format(False, "cpu") == CPU_PER_PARENT_FORMAT
    # on the CPU a small shared layer runs masked (grouped's fixed overhead dominates)...
    assert select_format(True, "cpu", d=32, h=8, alpha=2, batch=16384) == "masked"
    # ...a large one grouped, until its output gets huge
    assert select_format(True, "cpu", d=256, h=512, alpha=4, batch=256) == "grouped"
    assert select_format(True, "cpu", d=256, h=512, alpha=4, batch=16384) == "masked"
    # when each child skips few inputs (d - d/alpha < 32) masked wastes little: masked at any size
    assert select_format(True, "cpu", d=32, h=4096, alpha=4, batch=64) == "masked"
    assert select_format(True, "cpu", d=64, h=4096, alpha=4, batch=64) == "grouped"
    # without a batch size: masked only where grouped cannot pay at any batch
    assert select_format(True, "cpu", d=32, h=4096, alpha=4) == "masked"
    assert select_format(True, "cpu", d=64, h=4096, alpha=4) == "grouped"
    # off the CPU the size does not matter
    assert select_format(True, "cuda", d=32, h=8, alpha=2, batch=1) == "grouped"


@pytest.mark.parametrize("shared,d,h,expected", [
    (True, 128, 256, "grouped"), (True, 10, 6, "masked"), (False, 128, 256, CPU_PER_PARENT_FORMAT),
])
def test_auto_says_which_format_ran(caplog, shared, d, h, expected):
    x = torch.randn(64, d, generator=torch_generator(0, "x"))
    weight, labels, bias = make_parts(1, h, d, 2, shared=shared, prune=0.2)
    layer = FPELinear(weight, labels, 2, bias, batch=len(x))
    assert layer.shared is shared
    with caplog.at_level(logging.INFO, logger="satbench.kernels"):
        layer(x)
    assert layer.format_used == expected
    assert f"format {expected} (requested auto" in caplog.text
    assert f"format_used={expected}" in repr(layer)


def test_without_triton_child_label_falls_back_to_torch_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(formats_module, "_TRITON", ImportError("no triton here"))
    weight, labels, bias = make_parts(5, 4, 8, 2, shared=False, prune=0.3)
    layer = FPELinear(weight, labels, 2, bias, format="child_label")
    with caplog.at_level(logging.INFO, logger="satbench.kernels"):
        assert_matches_reference(layer, weight, labels, 2, bias,
                                 torch.randn(3, 8, generator=torch_generator(0, "x")), 5)
    assert (layer.format_used, layer.backend_used) == ("child_label", "torch")
    assert "format child_label (requested child_label, per-parent split) via torch" in caplog.text
    with pytest.raises(SatbenchError, match="triton cannot be imported"):
        FPELinear(weight, labels, 2, bias, format="child_label", backend="triton")


def test_a_state_dict_loads_across_formats_and_keeps_pruned_weights_dead():
    weight, labels, bias = make_parts(7, 5, 12, 3, shared=True, prune=0.4, dead_column=True)
    x = torch.randn(6, 12, generator=torch_generator(0, "x"))
    grouped = FPELinear(weight, labels, 3, bias, format="grouped")
    assert not bool(torch.equal(grouped.perm, torch.arange(12)))  # storage is permuted
    expected = grouped(x).detach()
    for fmt in ("masked", "child_label", "csr", "auto"):
        other = FPELinear(torch.zeros(5, 12), labels, 3, torch.zeros(15), format=fmt,
                          backend="torch")
        other.load_state_dict(grouped.state_dict())
        torch.testing.assert_close(other(x), expected)
        back = FPELinear(torch.zeros(5, 12), labels, 3, torch.zeros(15), format="grouped")
        back.load_state_dict(other.state_dict())
        torch.testing.assert_close(back(x), expected)
    state = grouped.state_dict()
    state["weight"] = torch.full_like(state["weight"], 5.0)  # revive every pruned weight
    grouped.load_state_dict(state)
    assert bool((grouped.weight.detach()[grouped.child < 0] == 0).all())
    assert grouped.nnz() == int((torch.as_tensor(labels) >= 0).sum())


def test_another_format_is_a_new_layer_and_dtype_conversion():
    weight, labels, bias = make_parts(9, 4, 10, 2, shared=True, prune=0.3)
    layer = FPELinear(weight, labels, 2, bias, format="masked")
    x = torch.randn(3, 10, generator=torch_generator(0, "x"))
    expected = layer(x).detach()
    grouped = layer.reformatted("grouped")
    torch.testing.assert_close(grouped(x), expected)
    layer = grouped.reformatted("child_label", backend="torch")
    torch.testing.assert_close(layer(x), expected)
    rebuilt = FPELinear.from_masked(grouped.expanded_weight(), grouped.expanded_mask(), 2,
                                    grouped.bias, format="csr")
    torch.testing.assert_close(rebuilt(x), expected)
    assert (grouped.format, layer.format, rebuilt.format) == ("grouped", "child_label", "csr")
    assert grouped.weight is not layer.weight  # new parameters: the old layer is left alone
    with pytest.raises(AttributeError):
        layer.format = "grouped"  # a live layer's format cannot change
    assert not hasattr(layer, "set_format")
    layer.double()
    torch.testing.assert_close(layer(x.double()), expected.double())
    with pytest.raises(RuntimeError, match="dtype"):
        layer(x)


def test_auto_resolves_once_at_construction_for_the_device_and_batch_given():
    weight, labels, bias = make_parts(6, 16, 64, 4, shared=True, balanced=True)
    # on the CPU grouped pays for this layer from about 620 rows per call
    assert FPELinear(weight, labels, 4, bias, batch=4).format == "masked"
    assert FPELinear(weight, labels, 4, bias, batch=1024).format == "grouped"
    layer = FPELinear(weight, labels, 4, bias)  # batch unknown: grouped can pay here
    assert (layer.format, layer.requested_format, layer.backend) == ("grouped", "auto", "torch")
    ref = reference(weight, labels, 4, bias)
    for batch in (4, 1024):  # a forward's batch does not change the format
        x = torch.randn(batch, 64, generator=torch_generator(batch, "x"))
        with torch.no_grad():
            torch.testing.assert_close(layer(x), ref(x))
        assert layer.format_used == "grouped"
    weight, labels, bias = make_parts(6, 16, 64, 4, shared=False)
    layer = FPELinear(weight, labels, 4, bias, device="cpu")
    assert (layer.format, layer.backend) == (CPU_PER_PARENT_FORMAT, "torch")
    with pytest.raises(SatbenchError, match="batch"):
        FPELinear(weight, labels, 4, batch=-1)


def test_loading_a_state_dict_keeps_the_layout_and_refuses_labels_it_cannot_hold():
    weight, labels, bias = make_parts(8, 5, 12, 3, shared=True, balanced=True)
    masked = FPELinear(weight, labels, 3, bias, format="masked")
    grouped = FPELinear(torch.zeros(5, 12), labels, 3, torch.zeros(15), format="grouped")
    storage, perm = grouped.weight.data_ptr(), grouped.perm.clone()
    state = masked.state_dict()
    kept = {name: tensor.clone() for name, tensor in state.items()}
    grouped.load_state_dict(state)
    assert grouped.weight.data_ptr() == storage and torch.equal(grouped.perm, perm)
    assert all(torch.equal(state[name], kept[name]) for name in state)  # the caller's dict
    x = torch.randn(4, 12, generator=torch_generator(0, "x"))
    torch.testing.assert_close(grouped(x), masked(x))
    other, other_labels, _ = make_parts(9, 5, 12, 3, shared=True, balanced=True)
    assert not np.array_equal(other_labels, labels)
    with pytest.raises(RuntimeError, match="not the shared split this 'grouped' layer"):
        grouped.load_state_dict(FPELinear(other, other_labels, 3, format="masked").state_dict(),
                                strict=False)
    torch.testing.assert_close(grouped(x), masked(x))  # left as it was


def test_argument_errors():
    weight, labels, bias = make_parts(1, 3, 6, 2, shared=False)
    with pytest.raises(SatbenchError, match="format"):
        FPELinear(weight, labels, 2, bias, format="dense")
    with pytest.raises(SatbenchError, match="shared split"):
        FPELinear(weight, labels, 2, bias, format="grouped")
    with pytest.raises(SatbenchError, match=r"child\[0, 0\] = 5 is outside \[0, 2\)"):
        FPELinear(weight, np.full((3, 6), 5), 2, bias)
    with pytest.raises(SatbenchError, match="bias"):
        FPELinear(weight, labels, 2, torch.zeros(5))
    with pytest.raises(SatbenchError, match="alpha"):
        FPELinear(weight, labels, 0)
    with pytest.raises(SatbenchError, match="last dimension"):
        FPELinear(weight, labels, 2)(torch.zeros(2, 5))


def test_mask_argument_prunes():
    weight, labels, _ = make_parts(2, 3, 6, 2, shared=False)
    mask = np.ones((3, 6), dtype=bool)
    mask[1, 2] = False
    layer = FPELinear(weight, labels, 2, mask=mask)
    assert int(layer.labels()[1, 2]) == -1
    assert float(layer.weight.detach()[1, 2]) == 0.0
    x = torch.randn(2, 6, generator=torch_generator(0, "x"))
    torch.testing.assert_close(layer(x), F.linear(x, layer.to_masked().effective_weight()))


def test_the_benchmark_runs_on_a_tiny_setting(tmp_path, capsys):
    """benchmarks/kernels.py, loaded as a script (its main does not run), on one tiny setting."""
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "kernels.py"
    bench = SimpleNamespace(**runpy.run_path(str(script), run_name="benchmark_kernels"))
    frame = bench.run([torch.device("cpu")], [(8, 4, 2)], [1, 3], rounds=1, sample_s=1e-4)
    assert set(frame["format"]) == {"dense", "masked_linear", "masked", "child_label", "csr",
                                    "grouped", "output_floor"}
    assert len(frame) == 6 * 2 * len(bench.MODES) + 2  # output_floor: forward only
    dense = frame.filter(frame["format"] == "dense")
    assert (dense["ratio_to_dense"] == 1.0).all()
    bench.print_tables(frame)
    lines = bench.check_targets(frame)
    assert any("grouped forward" in line for line in lines)
    assert any("output_floor" in line for line in lines)
    assert sum("auto's shared-split pick" in line for line in lines) == len(bench.MODES)
    assert "time / dense parent" in capsys.readouterr().out
    assert bench.plot(frame, tmp_path / "kernels.png")
    assert (tmp_path / "kernels.png").stat().st_size > 0

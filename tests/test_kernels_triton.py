"""The child_label Triton kernels (forward, grad_x, grad_w) against the masked reference, run on
the CPU in triton's interpreter (TRITON_INTERPRET=1), over hypothesis-drawn shapes and dtypes.

Skipped only when triton cannot be imported (it is the optional `kernels` extra)."""

import os

os.environ["TRITON_INTERPRET"] = "1"  # before satbench.kernels first imports its kernels

import importlib  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

pytest.importorskip("triton", reason="triton is not installed (pip install satbench[kernels])")

from test_kernels import make_parts, parent_grad, reference  # noqa: E402

from satbench.kernels import FPELinear, formats, triton_interpreting  # noqa: E402
from satbench.rng import torch_generator  # noqa: E402

TOLERANCE = {torch.float32: dict(rtol=1e-4, atol=1e-4), torch.float16: dict(rtol=2e-2, atol=2e-2)}


@pytest.fixture(scope="module", autouse=True)
def interpreted_kernels():
    """Make sure the kernels were compiled for the interpreter, even if something imported them
    before this module set TRITON_INTERPRET."""
    if not triton_interpreting():
        from satbench.kernels import triton_child_label

        formats._TRITON = importlib.reload(triton_child_label)
    assert triton_interpreting()


@st.composite
def kernel_cases(draw):
    d = draw(st.integers(1, 70))
    return dict(
        seed=draw(st.integers(0, 2**32 - 1)), batch=draw(st.integers(1, 40)), d=d,
        h=draw(st.integers(1, 12)), alpha=draw(st.integers(1, min(d, 9))),
        shared=draw(st.booleans()), prune=draw(st.sampled_from([0.0, 0.3, 0.9])),
        bias=draw(st.booleans()), dtype=draw(st.sampled_from([torch.float32, torch.float16])),
    )


@given(case=kernel_cases())
@settings(max_examples=40, deadline=None)
def test_triton_child_label_matches_masked(case):
    dtype = case["dtype"]
    weight, labels, bias = make_parts(case["seed"], case["h"], case["d"], case["alpha"],
                                      shared=case["shared"], prune=case["prune"],
                                      bias=case["bias"], dtype=dtype)
    alpha = case["alpha"]
    x = torch.randn(case["batch"], case["d"], generator=torch_generator(case["seed"], "x"),
                    dtype=torch.float64).to(dtype)
    grad_y = torch.randn(case["batch"], alpha * case["h"],
                         generator=torch_generator(case["seed"], "grad-y"),
                         dtype=torch.float64).to(dtype)
    layer = FPELinear(weight, labels, alpha, bias, format="child_label", backend="triton")
    xx = x.clone().requires_grad_()
    y = layer(xx)
    y.backward(grad_y)
    assert (layer.format_used, layer.backend_used) == ("child_label", "triton-interpreter")
    assert y.dtype == dtype
    # the reference in float32 from the same (rounded) values: the kernel accumulates in fp32
    ref = reference(weight.float(), labels, alpha, None if bias is None else bias.float())
    rx = x.float().requires_grad_()
    ref(rx).backward(grad_y.float())
    tol = TOLERANCE[dtype]
    scale = max(1.0, case["d"] ** 0.5)
    close = dict(rtol=tol["rtol"], atol=tol["atol"] * scale)
    torch.testing.assert_close(y.float(), ref(rx).detach(), **close)
    torch.testing.assert_close(xx.grad.float(), rx.grad, **close)
    wide = dict(rtol=tol["rtol"], atol=tol["atol"] * max(1.0, case["batch"] ** 0.5))
    gw = layer.weight.grad
    torch.testing.assert_close(gw.float(), parent_grad(ref, labels, alpha), **wide)
    assert bool((gw[torch.as_tensor(labels < 0)] == 0).all())
    if bias is not None:
        torch.testing.assert_close(layer.bias.grad.float(), ref.bias.grad, **wide)


def test_triton_training_step_keeps_pruned_weights_at_zero():
    weight, labels, bias = make_parts(11, 6, 20, 3, shared=False, prune=0.5)
    layer = FPELinear(weight, labels, 3, bias, format="child_label", backend="triton")
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1, weight_decay=0.1)
    x = torch.randn(17, 20, generator=torch_generator(0, "x"))
    for _ in range(3):
        optimizer.zero_grad()
        layer(x).square().mean().backward()
        optimizer.step()
    assert layer.backend_used == "triton-interpreter"
    pruned = torch.as_tensor(labels < 0)
    assert bool((layer.weight.detach()[pruned] == 0).all())
    assert bool((layer.weight.detach()[~pruned] != weight[~pruned]).any())  # it did train


def test_triton_matches_the_torch_backend_on_a_wider_layer():
    weight, labels, bias = make_parts(12, 40, 96, 4, shared=False, prune=0.2)
    x = torch.randn(70, 96, generator=torch_generator(1, "x"))
    outputs = {}
    for backend in ("triton", "torch"):
        layer = FPELinear(weight, labels, 4, bias, format="child_label", backend=backend)
        xx = x.clone().requires_grad_()
        y = layer(xx)
        y.square().sum().backward()
        outputs[backend] = (y.detach(), xx.grad, layer.weight.grad, layer.bias.grad)
    for got, expected in zip(outputs["triton"], outputs["torch"], strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-3)


AOT_SCRIPT = """
import torch
from satbench.kernels import triton_child_label as kernels
for dtype in (torch.float32, torch.float16):
    for shape in ((1, 64, 256, 4), (4096, 256, 1024, 2)):
        for name, compiled in kernels.compile_for_gpu(90, dtype, *shape).items():
            ptx = compiled.asm["ptx"]
            mma = ptx.count("wgmma.mma_async") + ptx.count("mma.sync")
            print(dtype, shape, name, len(compiled.asm["cubin"]), mma, compiled.metadata.shared)
"""


@pytest.mark.slow
def test_the_kernels_compile_for_an_h100_without_one():
    """Lower every kernel to PTX and a cubin for sm_90 (H100/H200) with the tile sizes a GPU
    launch would use, in a process without TRITON_INTERPRET; nothing runs on a GPU."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"  # triton 3.9's default, stated to silence its warning
    finished = subprocess.run([sys.executable, "-c", AOT_SCRIPT], env=env, capture_output=True,
                              text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    lines = finished.stdout.splitlines()
    assert len(lines) == 2 * 2 * 3
    for line in lines:
        *_, cubin_bytes, mma, shared = line.split()
        assert int(cubin_bytes) > 0
        assert int(mma) > 0  # tl.dot became tensor-core instructions (wgmma or mma.sync)
        assert int(shared) <= 227 * 1024  # fits an H100's shared memory per block

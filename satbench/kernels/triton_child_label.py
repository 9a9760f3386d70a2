"""Triton kernels for the `child_label` format: parent-shaped weights plus one child id per weight.

Storage: w (h, d) and lab (h, d) int8, where lab[i, j] = c >= 0 sends input j of parent i to
child c (hidden unit i*alpha + c) and lab[i, j] = -1 marks a pruned weight. The expanded layer
W' (alpha*h, d) is never materialised in memory: each program loads a (BLOCK_H, BLOCK_K) tile of
w and lab once and expands it in registers to a (BLOCK_H*ALPHA_P, BLOCK_K) tile, row
i*ALPHA_P + c holding w where lab == c, which feeds one tl.dot. ALPHA_P is alpha rounded up to a
power of two; padded rows are all zero and their outputs are never stored.

Three kernels, all writing their outputs once (no atomics, so reruns are idempotent):
- forward:  y[b, i*alpha + c] = sum_j x[b, j] * w[i, j] * [lab[i, j] == c] (+ bias)
- grad_x:   gx[b, j] = sum_i g[b, i*alpha + lab[i, j]] * w[i, j]
- grad_w:   gw[i, j] = sum_b g[b, i*alpha + lab[i, j]] * x[b, j]   (0 where lab == -1),
            over SPLIT_B slices of the batch into an fp32 workspace that torch then sums.

Importing this module imports triton. Under TRITON_INTERPRET=1 (set before this module is first
imported) the kernels run on CPU tensors in triton's interpreter, which is how CI tests them.
"""

import os

import torch
import triton
import triton.language as tl

INTERPRETING = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@triton.jit
def _expand_tile(w, lab, ALPHA_P: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr):
    """(BLOCK_H, BLOCK_K) weights and labels -> (BLOCK_H*ALPHA_P, BLOCK_K) expanded rows."""
    rc = tl.arange(0, ALPHA_P)
    wexp = tl.where(lab[:, None, :] == rc[None, :, None], w[:, None, :], 0.0).to(w.dtype)
    return tl.reshape(wexp, (BLOCK_H * ALPHA_P, BLOCK_K))


@triton.jit
def _columns(pid_h, H, ALPHA, ALPHA_P: tl.constexpr, BLOCK_H: tl.constexpr):
    """Output column i*alpha + c of each expanded row of a parent tile, and whether it exists."""
    rn = tl.arange(0, BLOCK_H * ALPHA_P)
    parent = pid_h * BLOCK_H + rn // ALPHA_P
    c = rn % ALPHA_P
    return parent * ALPHA + c, (parent < H) & (c < ALPHA)


@triton.jit
def _forward_kernel(
    x_ptr, w_ptr, lab_ptr, bias_ptr, y_ptr, B, D, H, ALPHA,
    stride_xb, stride_xd, stride_yb,
    HAS_BIAS: tl.constexpr, ALPHA_P: tl.constexpr, BLOCK_B: tl.constexpr,
    BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr, PRECISION: tl.constexpr,
):
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    rh = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)
    acc = tl.zeros((BLOCK_B, BLOCK_H * ALPHA_P), dtype=tl.float32)
    for k0 in range(0, D, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        x = tl.load(x_ptr + rb[:, None] * stride_xb + rk[None, :] * stride_xd,
                    mask=(rb[:, None] < B) & (rk[None, :] < D), other=0.0)
        wmask = (rh[:, None] < H) & (rk[None, :] < D)
        offsets = rh[:, None] * D + rk[None, :]
        w = tl.load(w_ptr + offsets, mask=wmask, other=0.0)
        lab = tl.load(lab_ptr + offsets, mask=wmask, other=-1).to(tl.int32)
        wexp = _expand_tile(w, lab, ALPHA_P, BLOCK_H, BLOCK_K)
        acc = tl.dot(x, tl.trans(wexp), acc, input_precision=PRECISION)
    col, valid = _columns(pid_h, H, ALPHA, ALPHA_P, BLOCK_H)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + col, mask=valid, other=0.0).to(tl.float32)[None, :]
    tl.store(y_ptr + rb[:, None] * stride_yb + col[None, :], acc.to(y_ptr.dtype.element_ty),
             mask=(rb[:, None] < B) & valid[None, :])


@triton.jit
def _grad_x_kernel(
    g_ptr, w_ptr, lab_ptr, gx_ptr, B, D, H, ALPHA,
    stride_gb, stride_gn, stride_xb,
    ALPHA_P: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr,
    BLOCK_K: tl.constexpr, PRECISION: tl.constexpr,
):
    pid_b = tl.program_id(0)
    pid_k = tl.program_id(1)
    rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    rk = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
    acc = tl.zeros((BLOCK_B, BLOCK_K), dtype=tl.float32)
    for h_tile in range(0, tl.cdiv(H, BLOCK_H)):
        col, valid = _columns(h_tile, H, ALPHA, ALPHA_P, BLOCK_H)
        g = tl.load(g_ptr + rb[:, None] * stride_gb + col[None, :] * stride_gn,
                    mask=(rb[:, None] < B) & valid[None, :], other=0.0)
        rh = h_tile * BLOCK_H + tl.arange(0, BLOCK_H)
        wmask = (rh[:, None] < H) & (rk[None, :] < D)
        offsets = rh[:, None] * D + rk[None, :]
        w = tl.load(w_ptr + offsets, mask=wmask, other=0.0)
        lab = tl.load(lab_ptr + offsets, mask=wmask, other=-1).to(tl.int32)
        acc = tl.dot(g, _expand_tile(w, lab, ALPHA_P, BLOCK_H, BLOCK_K), acc,
                     input_precision=PRECISION)
    tl.store(gx_ptr + rb[:, None] * stride_xb + rk[None, :], acc.to(gx_ptr.dtype.element_ty),
             mask=(rb[:, None] < B) & (rk[None, :] < D))


@triton.jit
def _grad_w_kernel(
    g_ptr, x_ptr, lab_ptr, gw_ptr, B, D, H, ALPHA, ROWS_PER_SPLIT,
    stride_gb, stride_gn, stride_xb, stride_xd,
    ALPHA_P: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr,
    BLOCK_K: tl.constexpr, PRECISION: tl.constexpr,
):
    pid_h = tl.program_id(0)
    pid_k = tl.program_id(1)
    split = tl.program_id(2)
    rh = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)
    rk = pid_k * BLOCK_K + tl.arange(0, BLOCK_K)
    col, valid = _columns(pid_h, H, ALPHA, ALPHA_P, BLOCK_H)
    acc = tl.zeros((BLOCK_H * ALPHA_P, BLOCK_K), dtype=tl.float32)
    start = split * ROWS_PER_SPLIT
    stop = tl.minimum(start + ROWS_PER_SPLIT, B)
    for b0 in range(start, stop, BLOCK_B):
        rb = b0 + tl.arange(0, BLOCK_B)
        in_batch = rb < stop
        g_t = tl.load(g_ptr + rb[None, :] * stride_gb + col[:, None] * stride_gn,
                      mask=valid[:, None] & in_batch[None, :], other=0.0)
        x = tl.load(x_ptr + rb[:, None] * stride_xb + rk[None, :] * stride_xd,
                    mask=in_batch[:, None] & (rk[None, :] < D), other=0.0)
        acc = tl.dot(g_t, x, acc, input_precision=PRECISION)
    wmask = (rh[:, None] < H) & (rk[None, :] < D)
    offsets = rh[:, None] * D + rk[None, :]
    lab = tl.load(lab_ptr + offsets, mask=wmask, other=-1).to(tl.int32)
    rc = tl.arange(0, ALPHA_P)
    acc3 = tl.reshape(acc, (BLOCK_H, ALPHA_P, BLOCK_K))
    gw = tl.sum(tl.where(lab[:, None, :] == rc[None, :, None], acc3, 0.0), axis=1)
    tl.store(gw_ptr + split * H * D + offsets, gw, mask=wmask)


# --- launch configuration --------------------------------------------------------------------


def _pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def _blocks(batch: int, d: int, h: int, alpha: int, dtype: torch.dtype) -> dict:
    """Tile sizes: tl.dot needs every dimension >= 16; on a GPU, aim for enough programs."""
    alpha_p = _pow2(alpha)
    block_b = min(64, max(16, _pow2(batch)))
    block_k = min(64 if dtype != torch.float32 else 32, max(16, _pow2(d)))
    block_n = min(128, max(16, alpha_p, _pow2(h * alpha_p)))
    if not INTERPRETING:  # shrink the parent tile while that leaves too few programs to fill a GPU
        while block_n > max(32, alpha_p) and (-(-batch // block_b)) * (
                -(-h * alpha_p // block_n)) < 256:
            block_n //= 2
    return {"ALPHA_P": alpha_p, "BLOCK_B": block_b, "BLOCK_H": block_n // alpha_p,
            "BLOCK_K": block_k}


def _precision(dtype: torch.dtype) -> str:
    if dtype == torch.float32 and not INTERPRETING and torch.backends.cuda.matmul.allow_tf32:
        return "tf32"
    return "ieee"


def _num_warps(cfg: dict) -> int:
    return 8 if cfg["BLOCK_B"] * cfg["BLOCK_H"] * cfg["ALPHA_P"] >= 64 * 128 else 4


def forward(x: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor, alpha: int,
            bias: torch.Tensor | None) -> torch.Tensor:
    """x (B, d) -> y (B, alpha*h)."""
    batch, d = x.shape
    h = weight.shape[0]
    y = torch.empty(batch, h * alpha, dtype=x.dtype, device=x.device)
    if batch == 0:
        return y
    cfg = _blocks(batch, d, h, alpha, x.dtype)
    grid = (triton.cdiv(batch, cfg["BLOCK_B"]), triton.cdiv(h, cfg["BLOCK_H"]))
    _forward_kernel[grid](
        x, weight, labels, bias if bias is not None else y, y, batch, d, h, alpha,
        x.stride(0), x.stride(1), y.stride(0), HAS_BIAS=bias is not None,
        PRECISION=_precision(x.dtype), num_warps=_num_warps(cfg), **cfg,
    )
    return y


def grad_input(grad_y: torch.Tensor, weight: torch.Tensor, labels: torch.Tensor,
               alpha: int) -> torch.Tensor:
    batch = grad_y.shape[0]
    h, d = weight.shape
    grad_x = torch.empty(batch, d, dtype=grad_y.dtype, device=grad_y.device)
    if batch == 0:
        return grad_x
    cfg = _blocks(batch, d, h, alpha, grad_y.dtype)
    grid = (triton.cdiv(batch, cfg["BLOCK_B"]), triton.cdiv(d, cfg["BLOCK_K"]))
    _grad_x_kernel[grid](
        grad_y, weight, labels, grad_x, batch, d, h, alpha,
        grad_y.stride(0), grad_y.stride(1), grad_x.stride(0),
        PRECISION=_precision(grad_y.dtype), num_warps=_num_warps(cfg), **cfg,
    )
    return grad_x


def grad_weight(grad_y: torch.Tensor, x: torch.Tensor, labels: torch.Tensor,
                alpha: int) -> torch.Tensor:
    """(h, d) gradient of the parent-shaped weight, zero at pruned positions."""
    batch, d = x.shape
    h = labels.shape[0]
    if batch == 0:
        return torch.zeros(h, d, dtype=x.dtype, device=x.device)
    cfg = _blocks(batch, d, h, alpha, x.dtype)
    tiles = triton.cdiv(h, cfg["BLOCK_H"]) * triton.cdiv(d, cfg["BLOCK_K"])
    splits = 1
    if not INTERPRETING:  # split the batch reduction while the tile grid alone is too small
        splits = max(1, min(triton.cdiv(batch, 4 * cfg["BLOCK_B"]), 256 // max(1, tiles)))
    rows = triton.cdiv(triton.cdiv(batch, splits), cfg["BLOCK_B"]) * cfg["BLOCK_B"]
    splits = triton.cdiv(batch, rows)
    workspace = torch.empty(splits, h, d, dtype=torch.float32, device=x.device)
    grid = (triton.cdiv(h, cfg["BLOCK_H"]), triton.cdiv(d, cfg["BLOCK_K"]), splits)
    _grad_w_kernel[grid](
        grad_y, x, labels, workspace, batch, d, h, alpha, rows,
        grad_y.stride(0), grad_y.stride(1), x.stride(0), x.stride(1),
        PRECISION=_precision(x.dtype), num_warps=_num_warps(cfg), **cfg,
    )
    return (workspace[0] if splits == 1 else workspace.sum(0)).to(x.dtype)


# --- ahead-of-time compilation, for a GPU this machine does not have ---------------------------


def compile_for_gpu(arch: int, dtype: torch.dtype, batch: int, d: int, h: int, alpha: int) -> dict:
    """Compile the three kernels for NVIDIA compute capability `arch` (90: H100/H200), with the
    tile sizes a launch of this shape would use on a GPU; returns {kernel: CompiledKernel}.

    Needs no GPU: triton lowers to PTX and runs its bundled ptxas. This checks that the kernels
    compile for the real target (the interpreter runs their logic but compiles nothing); the
    compiled code never runs here. Not available under TRITON_INTERPRET=1, where the kernels are
    interpreter objects.
    """
    if INTERPRETING:
        raise RuntimeError("compile_for_gpu: the kernels were imported for the interpreter "
                           "(TRITON_INTERPRET=1)")
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    data = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]
    cfg = _blocks(batch, d, h, alpha, dtype)
    precision = "tf32" if dtype == torch.float32 else "ieee"  # tf32: torch's CUDA default path
    pointers = {"x_ptr": data, "w_ptr": data, "g_ptr": data, "bias_ptr": data, "y_ptr": data,
                "gx_ptr": data, "lab_ptr": "i8", "gw_ptr": "fp32"}
    constants = {**cfg, "PRECISION": precision, "HAS_BIAS": True}
    compiled = {}
    for name, kernel in (("forward", _forward_kernel), ("grad_x", _grad_x_kernel),
                         ("grad_w", _grad_w_kernel)):
        signature = {arg: "constexpr" if arg in constants else (
            f"*{pointers[arg]}" if arg in pointers else "i32") for arg in kernel.arg_names}
        source = ASTSource(kernel, signature, {arg: constants[arg] for arg in kernel.arg_names
                                               if arg in constants})
        compiled[name] = triton.compile(source, target=GPUTarget("cuda", arch, 32),
                                        options={"num_warps": _num_warps(cfg)})
    return compiled

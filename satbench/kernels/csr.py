"""The `csr` format: the expanded layer as a torch.sparse CSR matrix. A baseline, not a fast
path: it is here so that benchmarks can compare the other formats with a general sparse matmul."""

import warnings

import torch


def csr_structure(child: torch.Tensor, alpha: int):
    """(crow, col, source) of the expanded (alpha*h, d) matrix: CSR row pointers and column
    indices, and for each stored value its flat index into the (h, d) weight."""
    h, d = child.shape
    live = child >= 0
    i, j = live.nonzero(as_tuple=True)
    row = i * alpha + child[i, j].to(torch.int64)
    order = torch.argsort(row * d + j)
    counts = torch.bincount(row, minlength=h * alpha)
    crow = torch.zeros(h * alpha + 1, dtype=torch.int64, device=child.device)
    crow[1:] = torch.cumsum(counts, 0)
    return crow, j[order], (i * d + j)[order]


def csr_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, structure,
               out_features: int) -> torch.Tensor:
    """y = x @ W'.T + bias with W' gathered from `weight` into the CSR `structure`."""
    crow, col, source = structure
    values = weight.view(-1).index_select(0, source)
    dtype = x.dtype
    if x.device.type == "cpu" and dtype not in (torch.float32, torch.float64):
        values, x = values.float(), x.float()  # MKL's CSR matmul has no half precision
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        matrix = torch.sparse_csr_tensor(crow, col, values, (out_features, weight.shape[1]),
                                         check_invariants=False)
        y = torch.sparse.mm(matrix, x.t()).t()
    y = y.to(dtype)
    return y if bias is None else y + bias

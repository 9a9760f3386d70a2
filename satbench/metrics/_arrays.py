"""numpy arrays and torch tensors alike as float64 numpy arrays (metrics never import torch)."""

import numpy as np


def as_float64(x, name: str = "array", ndim: int | None = None) -> np.ndarray:
    """A float64 numpy copy of x (a numpy array, torch tensor or nested sequence).

    Torch tensors are detached and moved to the CPU first; any dtype (bool, int, bfloat16)
    is accepted. ndim, when given, is checked.
    """
    if hasattr(x, "detach"):  # a torch tensor; duck-typed so metrics stay free of torch
        x = x.detach().to("cpu").double().numpy()
    array = np.array(x, dtype=np.float64)
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {array.shape}")
    return array


def as_weight_matrix(w1, name: str = "W1") -> np.ndarray:
    """A first-layer weight as a float64 (h, d) matrix: rows are neurons, columns input features."""
    w = as_float64(w1, name, ndim=2)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name}: contains NaN or infinite entries")
    return w


def as_bias(b1, h: int, name: str = "b1") -> np.ndarray:
    """A first-layer bias as a float64 (h,) vector; None means no bias (zeros)."""
    if b1 is None:
        return np.zeros(h)
    b = as_float64(b1, name).reshape(-1)
    if b.shape != (h,):
        raise ValueError(f"{name}: expected {h} entries (one per neuron), got shape {b.shape}")
    return b


def unit_rows(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows scaled to unit length, row norms); zero rows stay zero."""
    norms = np.linalg.norm(m, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    return m / safe[:, None], norms

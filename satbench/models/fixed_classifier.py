"""A one-hidden-layer ReLU network whose output layer is fixed: Hoffer, Hubara, Soudry 2018, "Fix
your classifier: the marginal value of training the last weight layer" (ICLR 2018, arXiv
1801.04540; official code eladhoffer/fix_your_classifier, HadamardProj in fixed_proj.py).

x -> relu(fc1(x)) = z -> -scale * (z / (||z||_2 + 1e-8)) @ P^T + bias, where P (n_outputs,
n_hidden) is a fixed projection, `scale` one learned scalar and `bias` a learned vector, as in the
official HadamardProj. P is a registered buffer, never a Parameter: no optimizer sees it, it is
saved with the model, and it is regenerated from the seed rather than counted as learned weights.

Which P: the rows of a Sylvester Hadamard matrix, H[:n_outputs, :n_hidden] of the smallest
power-of-two size that holds both, as the official code takes. Truncated to n_hidden columns,
Hadamard rows can coincide (entry (i, j) is (-1)^popcount(i & j), so with n_hidden = 2^k the
columns see only the low k bits of the row index and row i + 2^k repeats row i; this happens
only when n_outputs > n_hidden); two outputs would then see the same feature up to their biases.
fixed_projection detects that and uses a random orthogonal matrix instead (orthonormal rows, or
orthonormal columns when n_outputs > n_hidden), the paper's alternative to Hadamard, drawn from
the generator it is given; the model records which in `projection_kind`. The orthogonal rows have
unit norm where Hadamard rows have norm sqrt(n_hidden); the learned scale absorbs the difference.

With one output P is Hadamard row 0, all ones: the logit is -scale * sum(z / ||z||) + bias, a
function of how spread the (non-negative) hidden activations are, ||z||_1 / ||z||_2, alone. The
fixed head is made for many outputs (the paper's classes; here target "clauses").
"""

import numpy as np
import torch
from torch import nn

from satbench.errors import SatbenchError
from satbench.models.masked_linear import MaskedLinear, check_sizes

EPS = 1e-8  # the official HadamardProj's guard against an all-zero hidden vector


def sylvester_hadamard(size: int) -> np.ndarray:
    """The Sylvester Hadamard matrix of `size` (a power of two): scipy.linalg.hadamard's."""
    if size < 1 or size & (size - 1):
        raise SatbenchError(f"size: expected a power of two, got {size}")
    matrix = np.ones((1, 1), dtype=np.int64)
    while len(matrix) < size:
        matrix = np.block([[matrix, matrix], [matrix, -matrix]])
    return matrix


def hadamard_rows(n_rows: int, n_cols: int) -> np.ndarray:
    """H[:n_rows, :n_cols] of the Sylvester matrix of size 2**ceil(log2(max(n_rows, n_cols)))."""
    size = 1 << (max(n_rows, n_cols) - 1).bit_length()
    return sylvester_hadamard(size)[:n_rows, :n_cols]


def rows_repeat(matrix: np.ndarray) -> bool:
    """Whether two rows of `matrix` are equal."""
    return len(np.unique(matrix, axis=0)) < len(matrix)


def random_orthogonal(n_rows: int, n_cols: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random (n_rows, n_cols) float32 matrix with orthonormal rows (n_rows <=
    n_cols) or orthonormal columns (n_rows > n_cols), from `generator`."""
    gaussian = torch.randn(max(n_rows, n_cols), min(n_rows, n_cols), generator=generator,
                           dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    # QR alone is not uniform (Householder fixes the signs of R's diagonal); this sign fix is.
    q = q * torch.sign(torch.diagonal(r))
    return (q if n_rows > n_cols else q.T).to(torch.float32).contiguous()


def fixed_projection(n_outputs: int, n_hidden: int,
                     generator: torch.Generator) -> tuple[torch.Tensor, str]:
    """(P, kind): Hadamard rows when they are distinct, else a random orthogonal matrix drawn
    from `generator` (only drawn from then). kind is "hadamard" or "orthogonal"."""
    rows = hadamard_rows(n_outputs, n_hidden)
    if not rows_repeat(rows):
        return torch.as_tensor(rows, dtype=torch.float32), "hadamard"
    return random_orthogonal(n_outputs, n_hidden, generator), "orthogonal"


class FixedClassifierMLP(nn.Module):
    """x -> -scale * normalise(relu(fc1(x))) @ projection^T + bias (module docstring).

    fc1 is a MaskedLinear (n_hidden, n_inputs); projection a fixed (n_outputs, n_hidden) buffer,
    projection_kind says what it is. generator: fc1's weight and bias are drawn from it as MLP
    draws them (uniform in +-1/sqrt(n_inputs)), then the output bias, uniform in +-1/sqrt(
    n_outputs) as the official code draws it; None leaves them at zero. The scale starts at
    1/sqrt(n_outputs), as official.
    """

    def __init__(self, n_inputs: int, n_hidden: int, n_outputs: int,
                 generator: torch.Generator | None, projection: torch.Tensor,
                 projection_kind: str):
        super().__init__()
        check_sizes(n_inputs=n_inputs, n_hidden=n_hidden, n_outputs=n_outputs)
        if tuple(projection.shape) != (n_outputs, n_hidden):
            raise SatbenchError(f"projection: expected shape {(n_outputs, n_hidden)}, got "
                                f"{tuple(projection.shape)}")
        self.projection_kind = projection_kind
        self.fc1 = MaskedLinear(n_hidden, n_inputs, generator=generator)
        self.register_buffer("projection", projection.detach().to(torch.float32).clone())
        init_scale = n_outputs**-0.5
        self.scale = nn.Parameter(torch.tensor([init_scale]))
        self.bias = nn.Parameter(torch.zeros(n_outputs))
        if generator is not None:
            with torch.no_grad():
                self.bias.uniform_(-init_scale, init_scale, generator=generator)

    @property
    def n_inputs(self) -> int:
        return self.fc1.in_features

    @property
    def width(self) -> int:
        """Hidden units, the partly masked ones included."""
        return self.fc1.out_features

    @property
    def n_outputs(self) -> int:
        return self.projection.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.fc1(x))
        hidden = hidden / (hidden.norm(2, dim=-1, keepdim=True) + EPS)
        return -self.scale * (hidden @ self.projection.T) + self.bias

    def nnz_weights(self) -> int:
        """nnz(W1): the only learned weights (the projection is fixed, the scale is no weight)."""
        return self.fc1.nnz()

    def nnz_biases(self) -> int:
        return int(torch.count_nonzero(self.fc1.bias)) + int(torch.count_nonzero(self.bias))

    def macs_per_example(self) -> int:
        """nnz(W1) + nnz(projection): the fixed head costs multiply-adds like a learned one. The
        normalisation and the scale (O(width) each) are not weights and are not counted."""
        return self.fc1.nnz() + int(torch.count_nonzero(self.projection))

    def trainable_parameters(self) -> int:
        """The weights fc1's mask keeps, fc1's bias, the scale and the output bias."""
        return (int(self.fc1.mask.sum()) + self.fc1.bias.numel() + self.scale.numel()
                + self.bias.numel())

    def first_layers(self, inputs: torch.Tensor) -> list:
        """[(None, W1, b1)]: every input row sees fc1."""
        return [(None, self.fc1.effective_weight().detach(), self.fc1.bias.detach())]

    def apply_mask_(self) -> None:
        """Zero fc1's pruned weights in place; call it after each optimizer step."""
        self.fc1.apply_mask_()

    def extra_repr(self) -> str:
        return f"projection={self.projection_kind}, scale={float(self.scale.detach()):.4g}"

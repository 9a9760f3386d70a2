"""The one-hidden-layer ReLU MLP that learns a formula's truth function.

Each hidden ReLU unit can detect one clause, so the width h against the clause count m sets the
superposition pressure. Outputs are logits (train with BCEWithLogitsLoss).

Every model a method builds answers the same questions as MLP does here (the model protocol the
result rows read): width, nnz_weights, nnz_biases, macs_per_example, trainable_parameters and
first_layers. A method whose model is not an MLP (satbench.models.tree, fixed_classifier)
implements them itself.
"""

import torch
from torch import nn

from satbench.errors import SatbenchError
from satbench.models.masked_linear import MaskedLinear, check_sizes

ACTIVATIONS = {"relu": torch.relu, "silu": torch.nn.functional.silu}


class MLP(nn.Module):
    """x -> fc2(relu(fc1(x))), fc1 (n_hidden, n_inputs) and fc2 (n_outputs, n_hidden) weights.

    generator: the seeded torch.Generator the weights are drawn from (fc1 weight, fc1 bias, fc2
    weight, fc2 bias, in that order), so the same generator state gives the same network. None
    leaves every parameter at zero, for containers that are filled or loaded afterwards.
    activation: the hidden nonlinearity, "relu" (every method but bimt, which trains with BIMT's
    own SiLU by default) or "silu".
    """

    def __init__(
        self, n_inputs: int, n_hidden: int, n_outputs: int, generator: torch.Generator | None,
        *, bias: bool = True, dtype: torch.dtype = torch.float32, activation: str = "relu",
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise SatbenchError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got "
                                f"{activation!r}")
        self.activation = activation
        check_sizes(n_inputs=n_inputs, n_hidden=n_hidden, n_outputs=n_outputs)
        self.fc1 = MaskedLinear(n_hidden, n_inputs, bias=bias, generator=generator, dtype=dtype)
        self.fc2 = MaskedLinear(n_outputs, n_hidden, bias=bias, generator=generator, dtype=dtype)

    @classmethod
    def from_tensors(
        cls, w1: torch.Tensor, b1: torch.Tensor | None, w2: torch.Tensor, b2: torch.Tensor | None,
        mask1: torch.Tensor | None = None, mask2: torch.Tensor | None = None,
    ) -> "MLP":
        """An MLP holding copies of the given weights, biases and masks."""
        (n_hidden, n_inputs), (n_outputs, n_hidden2) = w1.shape, w2.shape
        if n_hidden2 != n_hidden:
            raise SatbenchError(f"w2: expected {n_hidden} columns to match w1, got {n_hidden2}")
        model = cls(n_inputs, n_hidden, n_outputs, None, bias=b1 is not None, dtype=w1.dtype)
        with torch.no_grad():
            for layer, weight, bias, mask in ((model.fc1, w1, b1, mask1),
                                              (model.fc2, w2, b2, mask2)):
                layer.weight.copy_(weight)
                if bias is not None:
                    layer.bias.copy_(bias)
                layer.set_mask(mask)
        return model.to(w1.device)

    @property
    def n_inputs(self) -> int:
        return self.fc1.in_features

    @property
    def width(self) -> int:
        """The number of hidden units h."""
        return self.fc1.out_features

    @property
    def n_outputs(self) -> int:
        return self.fc2.out_features

    def hidden_preactivations(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc1(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(ACTIVATIONS[self.activation](self.fc1(x)))

    def nnz_weights(self) -> int:
        """nnz(W1) + nnz(W2): the budget FPE holds fixed (biases are counted apart)."""
        return self.fc1.nnz() + self.fc2.nnz()

    def nnz_biases(self) -> int:
        return sum(int(torch.count_nonzero(layer.bias)) for layer in (self.fc1, self.fc2)
                   if layer.bias is not None)

    def macs_per_example(self) -> int:
        """Multiply-adds of one example's forward pass, non-zero weights only: what a sparse
        forward path (satbench.kernels) computes."""
        return self.nnz_weights()

    def trainable_parameters(self) -> int:
        """Learned scalars: the weights the masks keep (zero or not) and the biases."""
        return sum(int(layer.mask.sum()) + (0 if layer.bias is None else layer.bias.numel())
                   for layer in (self.fc1, self.fc2))

    def first_layers(self, inputs: torch.Tensor) -> list:
        """[(rows, W1, b1)]: the first layer every input row sees (rows None: all of them)."""
        bias = None if self.fc1.bias is None else self.fc1.bias.detach()
        return [(None, self.fc1.effective_weight().detach(), bias)]

    def apply_mask_(self) -> None:
        """Zero every pruned weight in place; call it after each optimizer step."""
        self.fc1.apply_mask_()
        self.fc2.apply_mask_()

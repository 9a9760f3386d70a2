"""Full-batch or mini-batch Adam training of an MLP with fixed masks.

The data order is a pure function of (seed, cell, step), so every method of a context (one cell,
satbench.rng) sees the same batches at the same step, and a phase that resumes at step T1
continues the same sequence.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from satbench.models.adam import Adam
from satbench.rng import torch_generator


def make_optimizer(model: torch.nn.Module, learning_rate: float, weight_decay: float = 0.0):
    return Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)


def batch_indices(n_rows: int, batch_size: int, step: int, seed: int,
                  cell: str | None = None) -> torch.Tensor | None:
    """The rows of batch `step`; None means the full batch. cell: the context's
    (TrainingContext.cell), which seeds the data order with the seed."""
    if batch_size == 0 or batch_size >= n_rows:
        return None
    per_epoch = n_rows // batch_size
    epoch, position = divmod(step, per_epoch)
    order = torch.randperm(n_rows, generator=torch_generator(seed, "data-order", epoch,
                                                                cell=cell))
    return order[position * batch_size : (position + 1) * batch_size]


@dataclass
class WeightDropout:
    """DropConnect's random weight masks, one pair per training step: each weight of W1, then of
    W2, kept with probability `keep` (drawn from `generator`, in that order), the kept weights
    scaled by 1 / keep, so that evaluation uses the weights as they are. The batched trainer
    (satbench.training.batched) replays exactly these draws and operations."""

    keep: float
    generator: torch.Generator

    def masks(self, w1_shape, w2_shape) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.rand(w1_shape, generator=self.generator) < self.keep,
                torch.rand(w2_shape, generator=self.generator) < self.keep)

    def dropped(self, weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The weight a step computes with: the kept entries, scaled by 1 / keep."""
        return weight * mask / self.keep

    def logits(self, model, x: torch.Tensor) -> torch.Tensor:
        """The model's output on x with this step's masks (a ReLU MLP)."""
        w1, w2 = model.fc1.effective_weight(), model.fc2.effective_weight()
        m1, m2 = self.masks(w1.shape, w2.shape)
        hidden = F.relu(F.linear(x, self.dropped(w1, m1), model.fc1.bias))
        return F.linear(hidden, self.dropped(w2, m2), model.fc2.bias)


def train_steps(model, optimizer, inputs, targets, *, first_step: int, steps: int,
                batch_size: int, seed: int, on_step: Callable[[int], None] | None = None,
                dropout: WeightDropout | None = None, cell: str | None = None) -> None:
    """Steps first_step .. first_step+steps-1 of the shared schedule; on_step(1) after each.
    dropout: DropConnect's masks, drawn anew every step."""
    model.train()
    for step in range(first_step, first_step + steps):
        rows = batch_indices(len(inputs), batch_size, step, seed, cell)
        x, y = (inputs, targets) if rows is None else (inputs[rows], targets[rows])
        logits = model(x) if dropout is None else dropout.logits(model, x)
        loss = F.binary_cross_entropy_with_logits(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.apply_mask_()  # no optimizer step (momentum, weight decay) may revive a pruned weight
        if on_step is not None:
            on_step(1)

"""dropconnect: the dense model after T1 trained T2 more steps with DropConnect (Wan, Zeiler,
Zhang, LeCun, Fergus 2013, "Regularization of Neural Networks using DropConnect", ICML).

The FPE paper reports FPE at least as good as DropConnect at the same non-zero budget. Here
DropConnect gets exactly FPE's setting: the same warm dense model at T1, the same T2 steps and
data order, a fresh optimizer, and the dense model's weights (the same budget). In every training
step each weight of W1 and W2 is kept with probability 1 - drop (one mask per step, for the whole
mini-batch, from the run seed's "dropconnect" stream) and the kept weights are scaled by
1 / (1 - drop), so that evaluation uses the weights as they are. Wan et al. draw a mask per
example and evaluate with a Gaussian moment-matching approximation; the per-step mask and the
inverted scaling are the common simplification, chosen for cost and stated here.
"""

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from satbench.errors import SatbenchError
from satbench.methods.base import Built, Method, Setup, late_step
from satbench.models.training import batch_indices
from satbench.rng import torch_generator
from satbench.specs import spec_field


@dataclass(frozen=True)
class DropConnectParams:
    drop: float = spec_field(0.5, help="DropConnect: the probability that a weight is dropped in "
                                       "a training step")


class DropConnect(Method):
    name = "dropconnect"
    version = "1"
    summary = "the dense model after T1, T2 more steps with DropConnect (same budget as FPE)"
    params = DropConnectParams
    starts_from = "dense"
    needs_warm = True
    batchable = False  # its own training loop: random weight masks every step

    def check(self, params, context) -> None:
        if not 0.0 <= float(params.drop) < 1.0:
            raise SatbenchError(f"drop: expected a probability in [0, 1), got {params.drop!r}")

    def build(self, params, setup: Setup) -> Built:
        return Built(copy.deepcopy(setup.warm))

    def train(self, model, params, setup: Setup, on_step=None):
        context = setup.context
        first, steps = self.first_step(context), self.steps(context)
        inputs, targets = setup.dataset.inputs("train"), setup.dataset.targets("train")
        optimizer = setup.optimizer(model)
        generator = torch_generator(context.seed, "dropconnect")
        keep, late_at, late = 1.0 - float(params.drop), late_step(first, steps), None
        model.train()
        for step in range(first, first + steps):
            if step == late_at:
                late = copy.deepcopy(model)
            rows = batch_indices(len(inputs), context.batch_size, step, context.seed)
            x, y = (inputs, targets) if rows is None else (inputs[rows], targets[rows])
            w1, w2 = model.fc1.effective_weight(), model.fc2.effective_weight()
            m1 = torch.rand(w1.shape, generator=generator) < keep
            m2 = torch.rand(w2.shape, generator=generator) < keep
            hidden = F.relu(F.linear(x, w1 * m1 / keep, model.fc1.bias))
            loss = F.binary_cross_entropy_with_logits(
                F.linear(hidden, w2 * m2 / keep, model.fc2.bias), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.apply_mask_()
            if on_step is not None:
                on_step(1)
        return late

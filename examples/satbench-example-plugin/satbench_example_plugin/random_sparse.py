"""random_sparse: alpha*h units from scratch under a fixed random mask at the dense weight count.

An ablation baseline for FPE. It has FPE's width (alpha*h hidden units) and FPE's budget (exactly
the dense model's h*d + o*h weights, over W1 and W2 together) but neither FPE's split nor a trained
starting point: the kept weights are drawn uniformly at random, once, from the run seed's own
"random-sparse-mask" stream, and the network trains T1 + T2 steps from scratch with the masks fixed.
It uses the standard training loop, so the batched trainer runs it too.
"""

from dataclasses import dataclass

import torch

from satbench.methods import Built, Method, Setup, alpha_field, register_method
from satbench.methods.base import check_alpha


@dataclass(frozen=True)
class RandomSparseParams:
    alpha: int = alpha_field()


def random_masks(setup: Setup, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean masks of W1 (width, d) and W2 (o, width) keeping exactly h*d + o*h entries, chosen
    uniformly among all positions of both layers."""
    task, h = setup.context.task, setup.context.neurons
    d, o = task.n_inputs, task.n_outputs
    n1, n2 = width * d, o * width
    keep = setup.rng("random-sparse-mask").permutation(n1 + n2)[:h * d + o * h]
    flat = torch.zeros(n1 + n2, dtype=torch.bool)
    flat[torch.as_tensor(keep)] = True
    return flat[:n1].reshape(width, d), flat[n1:].reshape(o, width)


class RandomSparse(Method):
    name = "random_sparse"
    version = "1"  # bump it when its results change: its stored runs then retrain
    summary = "alpha*h neurons from scratch under a fixed random mask at dense's weight count"
    params = RandomSparseParams
    budget = "nnz_weights"
    compare_with = ("dense", "fpe")

    def check(self, params, context) -> None:
        check_alpha(params.alpha, self.name)

    def hidden_width(self, params, context) -> int:
        return params.alpha * context.neurons

    def build(self, params, setup: Setup) -> Built:
        width = self.hidden_width(params, setup.context)
        model = setup.fresh_model(width, "init-random-sparse")
        mask1, mask2 = random_masks(setup, width)
        model.fc1.set_mask(mask1)
        model.fc2.set_mask(mask2)
        return Built(model)


register_method(RandomSparse)

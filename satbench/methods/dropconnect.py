"""dropconnect: the dense model after T1 trained T2 more steps with DropConnect (Wan, Zeiler,
Zhang, LeCun, Fergus 2013, "Regularization of Neural Networks using DropConnect", ICML).

The FPE paper reports FPE at least as good as DropConnect at the same non-zero budget. Here
DropConnect gets exactly FPE's setting: the same warm dense model at T1, the same T2 steps and
data order, a fresh optimizer, and the dense model's weights (the same budget). In every training
step each weight of W1 and W2 is kept with probability 1 - drop (one mask per step, for the whole
mini-batch, from the run seed's "dropconnect" stream) and the kept weights are scaled by
1 / (1 - drop), so that evaluation uses the weights as they are. Wan et al. draw a mask per
example and evaluate with a Gaussian moment-matching approximation; the per-step mask and the
inverted scaling are the common simplification, chosen for cost and stated here. The masks are
the standard loop's WeightDropout (satbench.models.training), which the batched trainer replays.
"""

import copy
from dataclasses import dataclass

from satbench.errors import SatbenchError
from satbench.methods.base import Built, Method, Setup
from satbench.models.training import WeightDropout
from satbench.rng import run_torch_generator
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

    def check(self, params, context) -> None:
        if not 0.0 <= float(params.drop) < 1.0:
            raise SatbenchError(f"drop: expected a probability in [0, 1), got {params.drop!r}")

    def build(self, params, setup: Setup) -> Built:
        return Built(copy.deepcopy(setup.warm))

    def weight_dropout(self, params, context) -> WeightDropout:
        return WeightDropout(1.0 - float(params.drop), run_torch_generator(context, "dropconnect"))

"""dense_reset: the dense model after T1 with a fresh optimizer for T2.

It separates what FPE gains from the optimizer reset FPE also makes.
"""

import copy

from satbench.methods.base import Built, Method, Setup


class DenseReset(Method):
    name = "dense_reset"
    version = "1"
    summary = "the dense model after T1, a fresh optimizer for T2 (isolates the reset)"
    starts_from = "dense"
    needs_warm = True

    def build(self, params, setup: Setup) -> Built:
        return Built(copy.deepcopy(setup.warm))

"""dense: the baseline every other method is measured against.

An MLP of h hidden units trained T1 + T2 steps from the run seed's "init" stream. Its state after
T1 is where the methods that start from dense branch off (fpe, dense_reset); it keeps its own
optimizer state across T1.
"""

from satbench.methods.base import Built, Method, Setup


class Dense(Method):
    name = "dense"
    version = "1"
    summary = "the dense baseline: h neurons, T1 + T2 steps"
    compare_with = ()
    budget = "none"

    def build(self, params, setup: Setup) -> Built:
        return Built(setup.fresh_model(setup.context.neurons, "init"))

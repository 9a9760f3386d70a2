"""sparse_scratch: FPE's final masks on a fresh alpha*h network, trained T1 + T2 from scratch.

It has FPE's sparsity pattern and budget without splitting a trained neuron, so FPE minus
sparse_scratch is what the split of a trained model adds.
"""

from satbench.methods.base import Built, Setup
from satbench.methods.fpe import Expanding, expansion


class SparseScratch(Expanding):  # needs_warm: its masks come from FPE's expansion at T1
    name = "sparse_scratch"
    version = "2"  # 2: FPE's output_scale param defaults to copy (1: divide)
    summary = "FPE's masks on a fresh alpha*h network from scratch (sparsity without the split)"

    def build(self, params, setup: Setup) -> Built:
        made = expansion(params, setup)
        model = setup.fresh_model(self.hidden_width(params, setup.context), "init-wide")
        model.fc1.set_mask(made.model.fc1.mask)
        model.fc2.set_mask(made.model.fc2.mask)
        return Built(model, made.clause_integrity, made.clause_collisions,
                     made.clause_collisions_any)

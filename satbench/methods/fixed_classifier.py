"""fixed_classifier: a fixed output layer, its weights reinvested in hidden neurons (Hoffer,
Hubara, Soudry 2018, "Fix your classifier: the marginal value of training the last weight layer",
ICLR 2018, arXiv 1801.04540; official code eladhoffer/fix_your_classifier).

The paper fixes the classifier to a Hadamard (or random orthogonal) projection with one learned
scale and a learned bias, and finds it costs little accuracy while saving the output layer's
weights. Here the saving is spent: the dense model has h*d + o*h learned weights (d inputs, o
outputs); this one learns only its first layer, with h + floor(h*o/d) full hidden neurons and,
when r = h*o mod d > 0, one more neuron whose mask keeps r inputs (drawn from the run seed's
"fixed-classifier-mask" stream), so its nnz_weights equals dense's exactly. The head is
satbench.models.fixed_classifier's: Hadamard rows, or a random orthogonal matrix from the
"fixed-classifier" stream where the truncated Hadamard rows would repeat (the model's
projection_kind says which). With one output (target "formula") the head is Hadamard row 0, all
ones, so the logit is -scale * sum(normalised hidden) + bias; with target "clauses" each clause
gets its own row.

It trains from scratch for T1 + T2 steps with the context's Adam on the mean BCE, through the
base Method.train: the projection is a buffer, so no optimizer step moves it.
"""

import torch

from satbench.methods.base import Built, Method, Setup
from satbench.models.fixed_classifier import FixedClassifierMLP, fixed_projection
from satbench.rng import run_torch_generator


def reinvested_width(dense_width: int, n_inputs: int, n_outputs: int) -> tuple[int, int]:
    """(full, remainder): the output layer's h*o weights buy floor(h*o/d) full neurons of d
    inputs each and one more neuron of `remainder` inputs (none when it is 0)."""
    extra, remainder = divmod(dense_width * n_outputs, n_inputs)
    return dense_width + extra, remainder


class FixedClassifier(Method):
    name = "fixed_classifier"
    version = "1"
    summary = "a fixed Hadamard output layer (learned scale, bias); its weights become neurons"
    batchable = False  # not an MLP: the batched trainer cannot replay it
    budget = "nnz_weights"
    compare_with = ("dense",)

    def hidden_width(self, params, context) -> int:
        """Every hidden unit, the partial one (when there is one) included."""
        task = context.task
        full, remainder = reinvested_width(context.neurons, task.n_inputs, task.n_outputs)
        return full + (remainder > 0)

    def build(self, params, setup: Setup) -> Built:
        context, task = setup.context, setup.context.task
        d, o = task.n_inputs, task.n_outputs
        full, remainder = reinvested_width(context.neurons, d, o)
        width = self.hidden_width(params, context)
        projection, kind = fixed_projection(o, width,
                                            run_torch_generator(context, "fixed-classifier"))
        model = FixedClassifierMLP(d, width, o,
                                   run_torch_generator(context, "init-fixed-classifier"),
                                   projection, kind)
        if remainder:
            mask = torch.ones(width, d, dtype=torch.bool)
            mask[full] = False
            kept = torch.randperm(d, generator=run_torch_generator(context,
                                                                   "fixed-classifier-mask"))
            mask[full, kept[:remainder]] = True
            model.fc1.set_mask(mask)
        return Built(model)

    def outcomes(self, model, params, context, dataset) -> dict:
        return {"classifier_scale": float(model.scale.detach())}

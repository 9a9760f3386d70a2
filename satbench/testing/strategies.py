"""Hypothesis strategies for satbench objects, for property tests of your own splitters.

Everything random inside is drawn from seeds that hypothesis chooses, through satbench.rng, so a
failing example replays exactly and the global RNGs are never touched.
"""

from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st

from satbench.encoding import ENCODINGS as _ENCODINGS
from satbench.generators.formula import Formula
from satbench.generators.random_formula import random_formula
from satbench.models.fpe import OUTPUT_SCALES
from satbench.models.mlp import MLP
from satbench.models.splitters import SplitContext
from satbench.rng import numpy_rng, torch_generator
from satbench.specs import FORMS, TARGETS, TaskSpec, max_distinct_clauses

ENCODINGS = tuple(_ENCODINGS)  # the encoding names, in registry order (hypothesis needs a sequence)

seeds = st.integers(0, 2**32 - 1)


@st.composite
def formulas(draw, *, min_vars: int = 1, max_vars: int = 8, max_clauses: int = 8,
             max_width: int = 3, forms=FORMS) -> Formula:
    """Small random formulas from random_formula with drawn sizes, form and seed."""
    n_vars = draw(st.integers(min_vars, max_vars))
    width = draw(st.integers(1, min(max_width, n_vars)))
    n_clauses = draw(st.integers(1, min(max_clauses, max_distinct_clauses(n_vars, width))))
    return random_formula(n_vars, n_clauses, width, draw(st.sampled_from(forms)), draw(seeds))


@st.composite
def task_specs(draw, *, min_vars: int = 3, max_vars: int = 10, max_clauses: int = 8,
               max_samples: int = 64) -> TaskSpec:
    """Valid small TaskSpecs (n_train + n_test never exceeds the 2^n assignments)."""
    n_vars = draw(st.integers(min_vars, max_vars))
    width = draw(st.integers(1, min(3, n_vars)))
    form = draw(st.sampled_from(FORMS))
    planted = form == "cnf" and draw(st.booleans())
    limit = max_distinct_clauses(n_vars, width, planted)
    samples = min(max_samples, 2**n_vars)
    n_train = draw(st.integers(1, samples - 1))
    return TaskSpec(
        n_vars=n_vars, n_clauses=draw(st.integers(1, min(max_clauses, limit))), width=width,
        form=form, planted=planted, encoding=draw(st.sampled_from(ENCODINGS)),
        target=draw(st.sampled_from(TARGETS)), n_train=n_train,
        n_test=draw(st.integers(1, samples - n_train)),
        positive_fraction=draw(st.sampled_from([0.0, 0.25, 0.5, 1.0])),
        seed=draw(st.integers(0, 2**16)),
    )


@st.composite
def dense_mlps(draw, n_inputs: int | None = None, *, max_inputs: int = 12, max_hidden: int = 6,
               max_outputs: int = 3, premasked: bool | None = False) -> MLP:
    """MLPs with drawn small sizes, a drawn init seed, and biases or not.

    premasked: True gives the model a random pre-existing mask (a dense model that was already
    sparse), None draws whether to, False (the default) keeps it fully dense.
    """
    if n_inputs is None:
        n_inputs = draw(st.integers(1, max_inputs))
    seed = draw(seeds)
    model = MLP(n_inputs, draw(st.integers(1, max_hidden)), draw(st.integers(1, max_outputs)),
                torch_generator(seed, "test-mlp-init"), bias=draw(st.booleans()))
    if premasked is None:
        premasked = draw(st.booleans())
    if premasked:
        rng = numpy_rng(seed, "test-mlp-mask")
        density = draw(st.sampled_from([0.3, 0.6, 0.9]))
        for layer in (model.fc1, model.fc2):
            layer.set_mask(torch.as_tensor(rng.random(tuple(layer.weight.shape)) < density))
    return model


@st.composite
def split_contexts(draw, *, clauses: bool | None = True, encodings=ENCODINGS,
                   formula_strategy=None) -> SplitContext:
    """A formula's split context under a drawn encoding.

    clauses: True always carries the formula's clauses, False never (clauses=None), None draws.
    """
    formula = draw(formula_strategy if formula_strategy is not None else formulas())
    with_clauses = draw(st.booleans()) if clauses is None else clauses
    return SplitContext.for_formula(formula, draw(st.sampled_from(encodings)), with_clauses)


@dataclass(frozen=True, eq=False)
class FpeCase:
    """Everything expand() needs, drawn consistently (the model's inputs match the context's)."""

    dense: MLP
    context: SplitContext
    alpha: int
    output_scale: str
    seed: int

    def rng(self) -> np.random.Generator:
        return numpy_rng(self.seed, "test-fpe-split")


@st.composite
def fpe_cases(draw, *, max_alpha: int = 4, clauses: bool | None = True,
              premasked: bool | None = None, output_scales=OUTPUT_SCALES) -> FpeCase:
    context = draw(split_contexts(clauses=clauses))
    dense = draw(dense_mlps(context.n_inputs, premasked=premasked))
    alpha = draw(st.integers(1, min(max_alpha, context.n_inputs)))
    return FpeCase(dense, context, alpha, draw(st.sampled_from(output_scales)), draw(seeds))


@st.composite
def clause_split_cases(draw, *, max_clauses: int = 12, max_width: int = 4, max_alpha: int = 4,
                       spare: int = 24):
    """(context, alpha) for the clause-spread invariant: a read-once or shared-support formula
    with n >= m k variables (up to `spare` more), under a drawn encoding, and 2 <= alpha <= n."""
    width = draw(st.integers(1, max_width))
    n_clauses = draw(st.integers(2, max_clauses))
    n_vars = n_clauses * width + draw(st.integers(0, spare))
    support = draw(st.sampled_from(("disjoint", "shared")))
    formula = random_formula(n_vars, n_clauses, width, draw(st.sampled_from(FORMS)),
                             draw(seeds), support=support)
    context = SplitContext.for_formula(formula, draw(st.sampled_from(ENCODINGS)))
    return context, draw(st.integers(2, min(max_alpha, n_vars)))

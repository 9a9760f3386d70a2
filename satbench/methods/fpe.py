"""fpe: Fixed Parameter Expansion (arXiv 2510.04500).

The dense model after T1 has each neuron split into alpha children with disjoint inputs (a
splitter decides which inputs go to which child), then is pruned back to the dense model's
non-zero weight count, and trains T2 steps with the masks fixed and a fresh optimizer. See
satbench.models.fpe for the expansion itself.
"""

import copy
from dataclasses import dataclass

from satbench.errors import SatbenchError
from satbench.methods.base import Built, Method, Setup, alpha_field, check_alpha
from satbench.models import OUTPUT_SCALES, SplitContext, expand
from satbench.models.splitters import SPLITTERS, splitter_names
from satbench.specs import spec_field


@dataclass(frozen=True)
class ExpansionParams:
    alpha: int = alpha_field()
    split: str = spec_field("clause", help="splitter: how a neuron's inputs are dealt to its "
                                           "children", choices=splitter_names,
                            registry=SPLITTERS)
    output_scale: str = spec_field("divide", help="each child's outgoing weights: the "
                                                  "parent's, divided by alpha or copied",
                                   choices=OUTPUT_SCALES)


def expansion(params, setup: Setup):
    """The expansion of the dense model at T1, built once per run and params (fpe and
    sparse_scratch share it), from the run seed's "split" stream."""
    key = ("expansion", params)
    if key not in setup.cache:
        task = setup.context.task
        context = SplitContext.for_formula(setup.dataset.formula, task.encoding)
        setup.cache[key] = expand(setup.warm, params.alpha, params.split, context,
                                  setup.rng("split"),
                                  output_scale=params.output_scale,
                                  overlap=getattr(params, "overlap", 1))
    return setup.cache[key]


class Expanding(Method):
    """What fpe and sparse_scratch share: FPE's params, its expansion of the dense model at T1,
    alpha*h hidden units with FPE-structured first layers."""

    params = ExpansionParams
    needs_warm = True
    structured = True

    def check(self, params, context) -> None:
        check_alpha(params.alpha, self.name)
        if params.alpha > context.task.n_inputs:
            raise SatbenchError(f"alpha: {params.alpha} children cannot have disjoint non-empty "
                                f"inputs from {context.task.n_inputs} inputs")

    def hidden_width(self, params, context) -> int:
        return params.alpha * context.neurons


class FPE(Expanding):
    name = "fpe"
    version = "1"
    summary = "Fixed Parameter Expansion: the dense model at T1 split into alpha children each"
    starts_from = "dense"
    compare_with = ("dense", "dense_reset", "sparse_scratch", "wide_dense")

    def build(self, params, setup: Setup) -> Built:
        made = expansion(params, setup)
        return Built(copy.deepcopy(made.model), made.clause_integrity, made.clause_collisions,
                     made.clause_collisions_any)


@dataclass(frozen=True)
class OverlapParams(ExpansionParams):
    overlap: int = spec_field(2, help="children each input feeds (consecutive labels, modulo "
                                      "alpha): 1 is FPE's disjoint split")


class OverlappingFPE(FPE):
    """fpe_overlap: FPE with children whose inputs overlap, pruned to the same count.

    The FPE paper reports that children with overlapping inputs do worse than disjoint children
    at the same count. Each input of a parent goes to the child its splitter names and to the
    next overlap - 1 children (labels modulo alpha), then the expanded layer is pruned to the
    dense budget as FPE's is. Clause integrity and collisions describe the splitter's labels.
    """

    name = "fpe_overlap"
    summary = "FPE with overlapping children (each input to `overlap` children), same budget"
    params = OverlapParams
    structured = False  # children share inputs: not FPELinear's structure
    compare_with = ("dense", "fpe")

    def check(self, params, context) -> None:
        super().check(params, context)
        if not 1 <= params.overlap <= params.alpha:  # 1 is FPE itself
            raise SatbenchError(f"overlap: expected 1..alpha ({params.alpha}), got "
                                f"{params.overlap!r}")

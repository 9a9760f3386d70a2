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
from satbench.models.fpe import DEFAULT_OUTPUT_SCALE
from satbench.models.splitters import SPLITTERS, splitter_names
from satbench.specs import spec_field


def output_scale_field():
    return spec_field(DEFAULT_OUTPUT_SCALE, help="each child's outgoing weights: the parent's, "
                      "copied (the paper) or divided by alpha", choices=OUTPUT_SCALES)


@dataclass(frozen=True)
class ExpansionParams:
    alpha: int = alpha_field()
    split: str = spec_field("clause", help="splitter: how a neuron's inputs are dealt to its "
                                           "children", choices=splitter_names,
                            registry=SPLITTERS)
    output_scale: str = output_scale_field()


def expansion(params, setup: Setup, split: str | None = None):
    """The expansion of the dense model at T1, built once per run and params (fpe and
    sparse_scratch share it), from the run's "split" stream. split: the splitter, when the
    params name none (fpe_overlap)."""
    split = params.split if split is None else split
    key = ("expansion", params, split)
    if key not in setup.cache:
        task = setup.context.task
        context = SplitContext.for_formula(setup.dataset.formula, task.encoding)
        setup.cache[key] = expand(setup.warm, params.alpha, split, context,
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
    version = "2"  # 2: output_scale defaults to the paper's copy (1: divide)
    summary = "Fixed Parameter Expansion: the dense model at T1 split into alpha children each"
    starts_from = "dense"
    compare_with = ("dense", "dense_reset", "sparse_scratch", "wide_dense")

    def build(self, params, setup: Setup) -> Built:
        made = expansion(params, setup, self.split_of(params))
        return Built(copy.deepcopy(made.model), made.clause_integrity, made.clause_collisions,
                     made.clause_collisions_any)

    def split_of(self, params) -> str:
        """The splitter that labels the children."""
        return params.split


@dataclass(frozen=True)
class OverlapParams:
    """fpe_overlap's params: FPE's without the splitter (see OverlappingFPE)."""

    alpha: int = alpha_field()
    output_scale: str = output_scale_field()
    overlap: int = spec_field(2, help="children each input feeds (consecutive labels, modulo "
                                      "alpha): 1 is FPE's disjoint split")


class OverlappingFPE(FPE):
    """fpe_overlap: FPE with children whose inputs overlap, pruned to the same count.

    The FPE paper reports that children with overlapping inputs do worse than disjoint children
    at the same count. Each input of a parent goes to the child a random balanced split names
    (the `random` splitter, from the run's "split" stream: at overlap 1 this is fpe with the
    random split, exactly) and to the next overlap - 1 children (labels modulo alpha), then the
    expanded layer is pruned to the dense budget as FPE's is. Clause integrity and collisions
    describe the split's labels.

    It takes no `split`: at the default overlap 2 and alpha 2 every child holds all its parent's
    inputs, so no splitter could change the model, and a sweep over splits would store the same
    run twice under two names.
    """

    name = "fpe_overlap"
    version = "2"  # 1 took a split it ignored at alpha 2
    summary = "FPE with overlapping children (each input to `overlap` children), same budget"
    params = OverlapParams
    structured = False  # children share inputs: not FPELinear's structure
    compare_with = ("dense", "fpe")
    def split_of(self, params) -> str:
        return "random"

    def check(self, params, context) -> None:
        super().check(params, context)
        if not 1 <= params.overlap <= params.alpha:  # 1 is FPE itself
            raise SatbenchError(f"overlap: expected 1..alpha ({params.alpha}), got "
                                f"{params.overlap!r}")

"""Dense MLPs, masked layers, split strategies and Fixed Parameter Expansion.

Models know nothing of the sweep grid they run in.
"""

from satbench.models.clause_split import ClauseSplitter, clause_partition
from satbench.models.fpe import OUTPUT_SCALES, Expansion, expand, prune_to_budget, split_neurons
from satbench.models.masked_linear import MaskedLinear
from satbench.models.mlp import MLP
from satbench.models.splitters import (
    SPLITTERS,
    ContiguousSplitter,
    RandomSharedSplitter,
    RandomSplitter,
    SplitContext,
    Splitter,
    clause_collisions,
    clause_integrity,
    get_splitter,
    input_variables,
    register_splitter,
    split_problems,
    splitter_names,
    unregister_splitter,
)

__all__ = [
    "MLP", "OUTPUT_SCALES", "ClauseSplitter", "ContiguousSplitter", "Expansion", "MaskedLinear",
    "RandomSharedSplitter", "RandomSplitter", "SPLITTERS", "SplitContext", "Splitter",
    "clause_collisions", "clause_integrity", "clause_partition", "expand", "get_splitter",
    "input_variables", "prune_to_budget", "register_splitter", "split_neurons",
    "split_problems", "splitter_names", "unregister_splitter",
]

"""Does a sparse first layer keep clauses whole, and is it modular? Two measures of W1's structure
that apply to any method, learned mask (bimt) or given one (fpe).
"""

import math

import networkx as nx
import numpy as np

from satbench.encoding import clause_inputs, get_encoding
from satbench.generators.formula import Formula
from satbench.metrics._arrays import as_weight_matrix


def mask_clause_integrity(W1, formula: Formula, encoding: str) -> float:
    """Of the (hidden unit, clause) pairs where a sparse unit reads at least one of the clause's
    inputs (a non-zero weight), the fraction where it reads all of them.

    A clause's inputs are all inputs of its variables, as in the splitter metric
    satbench.models.splitters.clause_integrity, which asks the same of a split's labels: there a
    clause is whole when one child gets all its inputs; here, when every unit that reads some of
    it reads all of it. Only sparse units count (a zero in their row): a unit that reads every
    input reads every clause whole, which says nothing about where a mask put its weights. FPE's
    clause split before pruning scores 1. NaN when no unit is sparse (a dense layer) or no sparse
    unit reads any clause.
    """
    reads = as_weight_matrix(W1) != 0
    reads = reads[~reads.all(axis=1)]  # the sparse units
    if not len(reads) or not formula.clauses:
        return math.nan
    groups = clause_inputs(formula.clauses, get_encoding(encoding).input_variables(formula.n_vars))
    touched = np.stack([reads[:, g].any(axis=1) for g in groups], axis=1)  # (units, clauses)
    whole = np.stack([reads[:, g].all(axis=1) for g in groups], axis=1)
    return float(whole.sum() / touched.sum()) if touched.any() else math.nan


def modularity(W1) -> float:
    """Newman's modularity Q of the bipartite graph of inputs and hidden units weighted by |W1|,
    for the partition the Clauset-Newman-Moore greedy algorithm (networkx) finds.

    Q is the share of edge weight inside communities minus its expectation under random rewiring
    with the same node strengths: about 0 for a layer without structure, approaching 1 for one of
    disconnected modules. The greedy algorithm is deterministic for a fixed node order, and nodes
    are added in index order, so the same W1 gives the same Q. NaN when W1 is all zero.
    """
    w = np.abs(as_weight_matrix(W1))
    if not w.any():
        return math.nan
    graph = nx.Graph()
    graph.add_nodes_from([("input", i) for i in range(w.shape[1])]
                         + [("hidden", j) for j in range(w.shape[0])])
    units, inputs = np.nonzero(w)
    graph.add_weighted_edges_from((("hidden", int(j)), ("input", int(i)), float(w[j, i]))
                                  for j, i in zip(units, inputs, strict=True))
    communities = nx.community.greedy_modularity_communities(graph, weight="weight")
    return float(nx.community.modularity(graph, communities, weight="weight"))


def structure_summary(W1, formula: Formula, encoding: str) -> dict[str, float]:
    """The result row's structure columns: mask_clause_integrity and modularity."""
    return {"mask_clause_integrity": mask_clause_integrity(W1, formula, encoding),
            "modularity": modularity(W1)}

"""The clause-spread invariant: a clause-aware split keeps clauses whole AND spreads them.

Clause integrity alone cannot tell a good clause split from a degenerate one: dealing every clause
to one child keeps every clause whole (satbench's clause split 1 did that on read-once formulas
with n >= 2 m k). This check also counts collisions, pairs of whole clauses in one child, per
parent, against what any balanced partition can reach:

- read-once formulas (no variable in two clauses) of one width k: each child of u variables has
  room for floor(u / k) whole clauses, so at most W* = min(m, sum of that room) clauses can be
  whole. A parent must keep W* whole, dealt as evenly as the room allows (water-filling), which
  is the fewest colliding pairs reachable with W* whole.
- shared-variable formulas: clauses that share a variable can only be whole together, and the
  minimum is a hard packing problem. The stated bound: with W whole clauses, the largest group
  of whole clauses linked by shared variables of size C, no child holds more than
  floor(W / alpha) + C whole clauses (what dealing those groups largest first guarantees).

Group sizes must differ by at most one variable (balance), so the room is fixed by n and alpha.
"""

import networkx as nx
import numpy as np

from satbench.models.splitters import SplitContext, Splitter
from satbench.testing.invariants import check_splitter


def check_clause_spread(splitter: Splitter, alpha: int, context: SplitContext,
                        rng: np.random.Generator, *, n_parents: int = 3) -> np.ndarray:
    """Run a clause-aware splitter and check balance, integrity and spread (module docstring).

    Needs alpha <= the number of variables (a variable's inputs then share a child).
    """
    variables = np.unique(context.input_variable)
    if alpha > len(variables):
        raise ValueError(f"check_clause_spread: alpha={alpha} exceeds the {len(variables)} "
                         "variables")
    per_variable = context.n_inputs // len(variables)
    child = check_splitter(splitter, alpha, context, rng, n_parents=n_parents,
                           max_imbalance=per_variable)
    clause_vars = [sorted({abs(lit) - 1 for lit in clause}) for clause in context.clauses]
    read_once = len({v for c in clause_vars for v in c}) == sum(len(c) for c in clause_vars)
    one_width = len({len(c) for c in clause_vars}) == 1
    for parent, labels in enumerate(child):
        whole, label = _whole_clauses(labels, context)
        loads = np.bincount(label[whole], minlength=alpha)
        if read_once and one_width:
            _check_read_once(parent, loads, len(variables), len(clause_vars),
                             len(clause_vars[0]), alpha)
        else:
            _check_shared(parent, loads, [clause_vars[j] for j in np.flatnonzero(whole)], alpha)
    return child


def reachable_spread(n_vars: int, n_clauses: int, width: int, alpha: int) -> tuple[int, int]:
    """(most whole clauses, fewest colliding pairs with that many whole) over balanced
    partitions of a read-once formula's n_vars variables into alpha groups."""
    sizes = [n_vars // alpha + (g < n_vars % alpha) for g in range(alpha)]
    room = [size // width for size in sizes]
    n_whole = min(n_clauses, sum(room))
    held = [0] * alpha
    for _ in range(n_whole):  # water-filling: the least loaded group with room
        g = min((g for g in range(alpha) if held[g] < room[g]), key=lambda g: held[g])
        held[g] += 1
    return n_whole, sum(q * (q - 1) // 2 for q in held)


def _check_read_once(parent, loads, n_vars, n_clauses, width, alpha) -> None:
    n_whole, fewest_pairs = reachable_spread(n_vars, n_clauses, width, alpha)
    pairs = int(sum(q * (q - 1) // 2 for q in loads))
    if loads.sum() < n_whole:
        raise AssertionError(f"parent {parent}: {loads.sum()} of {n_clauses} clauses whole; a "
                             f"balanced split keeps {n_whole} whole")
    if pairs > fewest_pairs:
        raise AssertionError(f"parent {parent}: children hold {loads.tolist()} whole clauses, "
                             f"{pairs} colliding pairs; {fewest_pairs} is reachable")


def _whole_clauses(labels: np.ndarray, context: SplitContext):
    groups = context.clause_inputs()
    whole = np.array([bool((labels[g] == labels[g[0]]).all()) for g in groups])
    label = np.array([int(labels[g[0]]) for g in groups], dtype=np.int64)
    return whole, label


def _check_shared(parent, loads, whole_clause_vars, alpha) -> None:
    linked = nx.Graph()
    linked.add_nodes_from(range(len(whole_clause_vars)))
    owner: dict[int, int] = {}
    for j, variables in enumerate(whole_clause_vars):
        for v in variables:
            linked.add_edge(owner.setdefault(v, j), j)
    biggest = max((len(group) for group in nx.connected_components(linked)), default=0)
    bound = len(whole_clause_vars) // alpha + biggest
    if loads.max(initial=0) > bound:
        raise AssertionError(f"parent {parent}: a child holds {loads.max()} whole clauses; with "
                             f"{len(whole_clause_vars)} whole and linked groups of up to "
                             f"{biggest}, at most {bound} (children hold {loads.tolist()})")

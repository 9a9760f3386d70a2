"""The clause-aware splits: deal variables to alpha balanced groups so that clauses stay whole and
are spread over the children.

A clause is whole when all of its variables land in one group: a child that sees a whole clause
can detect it alone. Two whole clauses in one child collide: that child must superpose them.
Keeping clauses whole is not enough. On a read-once formula with room to spare, "every clause
whole" is also met by putting every clause in one child and giving the others only irrelevant
variables (version 1 of this split did exactly that on the paper's tasks). So the objective
weighs both, per clause j with weight v_j (1 for the shared split):

    score = V * sum_j v_j [j whole]  -  alpha * sum_{whole pairs a<b in one child} v_a v_b

with V = sum_j v_j. Adding a whole clause to a child that already holds whole clauses of weight
L gains v_j (V - alpha L): worth it while L is below the fair share V / alpha. Consequences:
- Read-once formulas: the optimum keeps as many clauses whole as the balanced groups have room
  for and deals them as evenly as the room allows, i.e. the fewest colliding pairs any partition
  reaches (satbench.testing.check_clause_spread checks exactly that).
- Shared-variable formulas: clauses that share a variable can only be whole together, so the
  score trades them off: it breaks a clause rather than stack it into a child already holding
  more than the fair share. This is the stated trade-off; reports measure both integrity and
  collisions.

Algorithm (balance is a hard constraint: group sizes differ by at most one unit):
1. Units are variables: all inputs of a variable (x and not x under 'literals') go to one child.
   Only when alpha exceeds the number of variables does that become impossible; then each input
   is its own unit and the two inputs of a variable are tied by a heavy edge instead.
2. Starting partitions, alternating over restarts:
   - dealing: clauses, heaviest first, then those overlapping the fewest others, then the widest,
     each whole into the least loaded group with room for it; free units fill the room left.
     Exact on read-once formulas of one width.
   - recursive bisection of the clause co-occurrence graph (greedy growth refined by networkx's
     Kernighan-Lin): keeps heavily overlapping clauses whole.
3. A hill-climb swaps pairs of units while that strictly improves the score, then the smaller cut
   (the number of clause co-occurrences across groups) as a tie-breaker.
4. The best restart wins; all randomness comes from the caller's rng. On 126 random shared-
   variable formulas of 12-16 variables, 12 restarts reached the exhaustive optimum over all
   balanced bisections in 124 and fell one colliding pair short in 2 (24 restarts: 125).

Two splitters use it: 'clause' (one partition shared by all parents, every clause weight 1) and
'clause-weighted' (one partition per parent, each clause weighted by how much of the parent's
warm weight it carries: the Boolean analogue of grouping inputs by the weights' Gram matrix).
"""

import networkx as nx
import numpy as np

from satbench.errors import SatbenchError
from satbench.models.splitters import SplitContext, register_splitter

# Per-parent clause weights are quantised to 1..WEIGHT_LEVELS, so scores are exact integers and
# no platform's float rounding can change which partition wins.
WEIGHT_LEVELS = 16


class ClauseSplitter:
    """One partition for all parents: clauses whole and spread evenly over the children."""

    name = "clause"
    version = "2"  # 1 kept clauses whole but packed them into one child
    shared = True

    def __init__(self, restarts: int = 12):
        self.restarts = restarts

    def split(self, weight, alpha, context, rng):
        row = clause_partition(context, alpha, rng, restarts=self.restarts)
        return np.tile(row, (len(weight), 1))


class WeightedClauseSplitter:
    """One partition per parent: the clauses that this parent's warm weights mix most are kept
    whole and put in different children; clauses the parent ignores matter little."""

    name = "clause-weighted"
    version = "1"
    shared = False

    def __init__(self, restarts: int = 3):
        self.restarts = restarts

    def split(self, weight, alpha, context, rng):
        groups = context.clause_inputs()
        weights = [parent_clause_weights(row, groups)
                   for row in np.asarray(weight, dtype=np.float64)]
        return clause_partitions(context, alpha, rng, weights, self.restarts)


def parent_clause_weights(row: np.ndarray, clause_inputs: list[np.ndarray]) -> np.ndarray:
    """Each clause's share of one parent's weight (L2 norm over its inputs), as 1..16."""
    mass = np.array([np.sqrt(np.sum(row[inputs] ** 2)) for inputs in clause_inputs])
    top = mass.max(initial=0.0)
    if not top > 0:
        return np.ones(len(clause_inputs), dtype=np.int64)
    return 1 + np.rint((WEIGHT_LEVELS - 1) * mass / top).astype(np.int64)


def clause_partition(context: SplitContext, alpha: int, rng: np.random.Generator,
                     restarts: int = 12, clause_weight: np.ndarray | None = None) -> np.ndarray:
    """(n_inputs,) int8 group of each input; see the module docstring."""
    return clause_partitions(context, alpha, rng, [clause_weight], restarts)[0]


def clause_partitions(context: SplitContext, alpha: int, rng: np.random.Generator,
                      clause_weights: list, restarts: int = 12) -> np.ndarray:
    """(len(clause_weights), n_inputs) int8: one partition per clause weighting (None: every
    clause weight 1), drawn one after another from `rng`, on one unit graph built once."""
    if context.clauses is None:
        raise SatbenchError("split 'clause': needs the formula's clauses, but the split context "
                            "has none")
    if not 1 <= alpha <= context.n_inputs:
        raise SatbenchError(f"alpha: expected 1..{context.n_inputs}, got {alpha}")
    unit_of_input, clause_units, adjacency = _unit_graph(context, alpha)
    n_units = len(adjacency)
    sizes = np.array([n_units // alpha + (c < n_units % alpha) for c in range(alpha)])
    padded = _pad(clause_units)
    rows = []
    for clause_weight in clause_weights:
        weights = None if clause_weight is None else np.asarray(clause_weight, dtype=np.int64)
        objective = _Objective(padded, weights, adjacency, alpha)
        best, best_score = None, None
        for restart in range(max(1, restarts)):
            if restart % 3 == 0:
                labels = _deal(clause_units, weights, sizes, rng)
            else:
                labels = np.zeros(n_units, dtype=np.int64)
                _bisect(np.arange(n_units), 0, alpha, sizes, adjacency, labels, rng,
                        by_group=restart % 3 == 1)
            labels = _hill_climb(labels, objective)
            score = objective.score(labels[None])[0]
            if best_score is None or score > best_score:
                best, best_score = labels, score
        rows.append(best[unit_of_input])
    return np.stack(rows).astype(np.int8)


def _unit_graph(context: SplitContext, alpha: int):
    """Units, each clause's units, and the (U, U) clause co-occurrence weights."""
    variables, unit_of_input = np.unique(context.input_variable, return_inverse=True)
    by_variable = alpha <= len(variables)
    if not by_variable:
        unit_of_input = np.arange(context.n_inputs)
    n_units = int(unit_of_input.max()) + 1
    adjacency = np.zeros((n_units, n_units), dtype=np.int64)
    clause_units = [np.unique(unit_of_input[inputs]) for inputs in context.clause_inputs()]
    for units in clause_units:
        adjacency[np.ix_(units, units)] += 1
    if not by_variable:
        # Inputs of one variable: tie them with more weight than all clauses together carry.
        tie = len(clause_units) + 1
        same = context.input_variable[:, None] == context.input_variable[None, :]
        adjacency += tie * same
    np.fill_diagonal(adjacency, 0)
    return unit_of_input, clause_units, adjacency


class _Objective:
    """The module docstring's score (times 2, so it stays an integer) for many candidate
    labelings (rows) at once. With per-parent clause weights, the score with every weight 1
    decides first and the weighted score breaks its ties: the parent's clauses are spread as
    evenly as the shared split spreads them, and the ones it mixes most are the ones kept apart.
    The cut is the last tie-breaker."""

    def __init__(self, padded: np.ndarray, weights: np.ndarray | None, adjacency: np.ndarray,
                 alpha: int):
        self.padded, self.adjacency, self.alpha = padded, adjacency, alpha
        self.weights = weights
        # One step of a higher level outweighs any change of the levels below it.
        self.big_weighted = 1 if weights is None else (2 + alpha) * int(weights.sum()) ** 2 + 1
        self.big = int(adjacency.sum()) + 1  # the cut is at most the sum of all edge weights

    def spread(self, labels: np.ndarray) -> np.ndarray:
        groups = labels[:, self.padded]  # (rows, m, width)
        whole = (groups == groups[:, :, :1]).all(axis=2)
        uniform = self._spread(whole, groups[:, :, 0], np.ones(len(self.padded), np.int64))
        if self.weights is None:
            return uniform
        return uniform * self.big_weighted + self._spread(whole, groups[:, :, 0], self.weights)

    def _spread(self, whole, label, weights) -> np.ndarray:
        """(rows,) 2 V sum_j v_j whole_j - alpha (sum_g L_g^2 - sum_j whole_j v_j^2)."""
        held = np.where(whole, weights, 0)  # (rows, m)
        load = np.zeros((len(whole), self.alpha), dtype=np.int64)
        np.add.at(load, (np.arange(len(whole))[:, None], label), held)
        pairs = (load**2).sum(axis=1) - (held * weights).sum(axis=1)
        return 2 * int(weights.sum()) * held.sum(axis=1) - self.alpha * pairs

    def cut(self, labels: np.ndarray) -> np.ndarray:
        apart = labels[:, :, None] != labels[:, None, :]
        return (apart * self.adjacency).sum(axis=(1, 2)) // 2

    def score(self, labels: np.ndarray) -> np.ndarray:
        return self.spread(labels) * self.big - self.cut(labels)


def _deal(clause_units, weights, sizes, rng) -> np.ndarray:
    """Clauses heaviest first, then those sharing variables with the fewest others (as a greedy
    independent set does: a clause placed early forces the clauses it overlaps into its child),
    then the widest; each whole into the group holding the fewest (then the lightest) whole
    clauses that has room for its unplaced units; clauses that cannot be whole are skipped;
    free units fill the room left."""
    n_units = int(sizes.sum())
    if weights is None:
        weights = np.ones(len(clause_units), dtype=np.int64)
    labels = np.full(n_units, -1, dtype=np.int64)
    room = sizes.astype(np.int64).copy()
    count = np.zeros(len(sizes), dtype=np.int64)
    load = np.zeros(len(sizes), dtype=np.int64)
    widths = np.array([len(units) for units in clause_units])
    overlaps = [set(units.tolist()) for units in clause_units]
    degree = np.array([sum(bool(a & b) for b in overlaps) - 1 for a in overlaps])
    tie_break = rng.permutation(len(clause_units))
    group_order = rng.permutation(len(sizes))
    for j in np.lexsort((tie_break, -widths, degree, -weights)):
        units = clause_units[j]
        unplaced = units[labels[units] < 0]
        placed = np.unique(labels[units][labels[units] >= 0])
        allowed = placed if len(placed) else range(len(sizes))
        fits = [g for g in allowed if room[g] >= len(unplaced)] if len(placed) <= 1 else []
        if not fits:
            continue
        g = min(fits, key=lambda c: (count[c], load[c], -room[c], group_order[c]))
        labels[unplaced] = g
        room[g] -= len(unplaced)
        count[g] += 1
        load[g] += weights[j]
    free = np.flatnonzero(labels < 0)
    labels[rng.permutation(free)] = np.repeat(np.arange(len(sizes)), room)
    return labels


def _bisect(nodes, lo, hi, sizes, adjacency, labels, rng, by_group=True) -> None:
    """Deal `nodes` to groups lo..hi-1 with sizes[lo:hi], one balanced cut at a time."""
    if hi - lo == 1:
        labels[nodes] = lo
        return
    mid = (lo + hi) // 2
    n_first = int(sizes[lo:mid].sum())
    # Seed the first side as whole final groups, each grown at its own size, so a side that
    # holds the right number of units but cannot be cut into its groups is not chosen.
    # by_group=False grows the side as one piece instead; restarts alternate, since neither
    # seeding dominates on overlapping clauses.
    first: set[int] = set()
    for size in sizes[lo:mid] if by_group else [n_first]:
        pool = np.array([n for n in nodes if n not in first])
        first |= _grow(pool, int(size), adjacency, rng, best_fit=by_group)
    graph = nx.Graph()
    graph.add_nodes_from(nodes.tolist())
    sub = adjacency[np.ix_(nodes, nodes)]
    for a, b in np.argwhere(np.triu(sub)):
        graph.add_edge(int(nodes[a]), int(nodes[b]), weight=int(sub[a, b]))
    rest = [int(n) for n in nodes if n not in first]
    part1, part2 = nx.community.kernighan_lin_bisection(graph, (first, set(rest)))
    # KL swaps pairs, so one side still has n_first nodes (it may return the sides swapped).
    first = part1 if len(part1) == n_first else part2
    in_first = np.isin(nodes, sorted(first))
    _bisect(nodes[in_first], lo, mid, sizes, adjacency, labels, rng, by_group)
    _bisect(nodes[~in_first], mid, hi, sizes, adjacency, labels, rng, by_group)


def _grow(nodes, size, adjacency, rng, best_fit: bool) -> set[int]:
    """A seed group of `size` nodes, grown one node at a time.

    Always most attached to the group first (keeps clauses together). Ties: with best_fit, a node
    whose still-unplaced neighbours fit in the room left, the largest such (a clause is not
    started where it cannot be finished, and free variables fill the leftover room), then the
    fewest unplaced neighbours; without, the group starts at a random node and prefers nodes with
    the least weight left outside. Last, a random order (which differs between restarts).
    """
    sub = adjacency[np.ix_(nodes, nodes)]
    tie_break = rng.permutation(len(nodes))
    chosen = np.zeros(len(nodes), dtype=bool)
    if not best_fit:
        chosen[int(np.argmin(tie_break))] = True
    while chosen.sum() < size:
        inside = sub[:, chosen].sum(axis=1)
        if best_fit:
            room = size - chosen.sum()
            pending = (sub[:, ~chosen] > 0).sum(axis=1)
            second = np.where(pending <= room - 1, -pending, pending + len(nodes))
        else:
            second = sub[:, ~chosen].sum(axis=1)
        order = np.lexsort((tie_break, second, -inside))
        pick = next(i for i in order if not chosen[i])
        chosen[pick] = True
    return {int(n) for n in nodes[chosen]}


def _pad(clause_units: list[np.ndarray]) -> np.ndarray:
    """(m, k) unit indices, short rows padded with their first unit (which never breaks them)."""
    width = max((len(u) for u in clause_units), default=1)
    padded = np.zeros((len(clause_units), width), dtype=np.int64)
    for row, units in enumerate(clause_units):
        padded[row] = np.concatenate([units, np.full(width - len(units), units[0])])
    return padded


def _hill_climb(labels: np.ndarray, objective: _Objective, max_passes: int = 8) -> np.ndarray:
    """Swap pairs of units across groups while that strictly improves the score.

    Only swaps that move a clause's unit can change the spread; the cut is the tie-breaker, since
    a swap that keeps the spread but pulls a broken clause's units closer together is often the
    step before one that makes it whole.
    """
    labels = labels.copy()
    adjacency = objective.adjacency
    n_units = len(labels)
    everything = np.arange(n_units)
    in_clauses = np.unique(objective.padded)
    cut_now = int(objective.cut(labels[None])[0])
    score = int(objective.spread(labels[None])[0]) * objective.big - cut_now
    for _ in range(max_passes):
        improved = False
        for unit in in_clauses:
            # Every swap of `unit` with another unit at once: row v is the swap with unit v.
            trial = np.tile(labels, (n_units, 1))
            trial[:, unit] = labels
            trial[everything, everything] = labels[unit]
            # Cut after swapping unit (group a) with v (group b), from each unit's weight into
            # each group: the cut gains C[u,a] - C[u,b] + C[v,b] - C[v,a] + 2 w(u,v).
            into = adjacency @ np.eye(objective.alpha, dtype=np.int64)[labels]
            a, b = labels[unit], labels
            delta = (into[unit, a] - into[unit, b] + into[everything, b] - into[everything, a]
                     + 2 * adjacency[unit])
            cut = cut_now + delta
            trial_score = np.where(b != a, objective.spread(trial) * objective.big - cut,
                                   np.iinfo(np.int64).min)
            best = int(np.argmax(trial_score))
            if trial_score[best] > score:
                labels[unit], labels[best] = labels[best], labels[unit]
                score, cut_now = int(trial_score[best]), int(cut[best])
                improved = True
        if not improved:
            break
    return labels


register_splitter(ClauseSplitter())
register_splitter(WeightedClauseSplitter())

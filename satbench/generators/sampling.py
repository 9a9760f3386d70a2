"""Drawing distinct assignments uniformly from one class (positives or negatives) of a formula.

sample_class(formula, value, count, rng) returns `count` distinct assignments x with
formula(x) == value, drawn (as nearly as possible) uniformly without replacement from that class,
plus the name of the method used. The method is chosen automatically:

- "enumeration" (exact), n_vars <= ENUMERATION_MAX_VARS: list the whole class and choose.
- "rejection" (exact): draw uniform assignments and keep the new members of the class, which is a
  uniform draw without replacement. Chosen when a probe of PROBE_DRAWS draws predicts that `count`
  members need at most _rejection_max_draws(m) draws (2^24 for m = 256 clauses, about a second).
- "solver": python-sat gets a CNF whose models, projected onto the formula's variables, are
  exactly the class (class_cnf). A class of at most max(2 count, EXHAUST_MIN) members is listed in
  full with blocking clauses and chosen from exactly. A larger one is sampled approximately, in
  two stages:
  1. hashing cells: list every member x with A x = b (mod 2) for random sparse XOR constraints
     (A, b). Each member lies in such a cell with probability exactly 2^-k whatever its place in
     the class, so the union of whole cells is a nearly unbiased sample even of a clustered class
     (near the satisfiability threshold, solutions come in clusters that local search and
     solver runs under random phases visit very unevenly).
  2. a Markov chain from those members: many bit-sliced Metropolis walkers propose flipping a
     random set of variables (each with probability about 1/n) and accept iff they stay in the
     class. The proposal is symmetric and irreducible, so the chain's stationary distribution is
     uniform; started near uniform it stays there, and it spreads apart the members of one cell,
     which share the cell's parities.
  If the cells run out of budget (a class of many millions needs more XORs than CDCL solvers
  handle fast), solver runs under random phases and random assumptions top the starting points
  up; this fallback is biased towards members with large basins and the chain, which mixes slowly
  near the threshold, only partly corrects it.

All work on assignments is bit-sliced: row v-1 of a uint64 array holds variable v for 64
assignments (one per bit), so a clause is evaluated on 64 assignments per word operation: 13-24
million rejection draws a second, or about 5,000 chain steps of 4,096 walkers, for a 64-variable,
256-clause 3-CNF on one core.

Every loop is bounded (draw budgets, cell and propagation budgets, conflict budgets per solver
call, chain rounds). An empty class (UNSAT, proved by the solver or by enumeration), a class
smaller than `count`, or a sampler that stops finding new members raises SatbenchError naming the
counts.

Performance, measured (2-core machine shared with other jobs; planted 3-CNF, n=64, m=256,
seeds 0-4): 5,000 positives ("solver": a failed exact listing of 10,000, then 10-20 hashing cells
of ~250 members and 8 chain sweeps) take 0.5-1.4 s; 5,000 negatives ("rejection") 0.03-0.17 s.

Uniformity, measured (benchmarks/sampling_uniformity.py): total-variation distance between all
draws and the uniform distribution over the class, next to that of an exactly uniform sampler
making the same draws (the noise floor), and a chi-square p-value:
- planted 3-CNF n=64 m=256 (seed 2: 32,624 positives), 20 runs of 5,000, as sample_class runs
  it: TV 0.2048 (p 0.95), floor 0.2061; the first design (solver runs under random phases and
  assumptions, then the chain; "phase starts") 0.2845 (p ~ 0).
- eight small classes (n = 14-18, 28 to 16,374 members; planted 3-CNF positives near m/n = 4,
  3-DNF negatives, 4-DNF positives, 3-CNF negatives), exact listing switched off, a quarter of
  the class per run, 20-50 draws per member: TV within 0.008 of the floor (0.040-0.086) in every
  case, p 0.02-0.80; phase starts 0.06-0.15 against floors of 0.04-0.05 on the six clustered
  classes (p < 1e-7), at the floor on the two unclustered ones.
- classes too large to list (n=64, m=256, seeds 0, 1, 3: 0.5-3 million positives): 256 more
  chain sweeps move no per-variable marginal by more than 1.9-3.4 standard errors (of 64
  variables, standard errors understated), against 18-47 from phase starts. The chain alone
  cannot fix the first design: it mixes slowly near the threshold.
"""

import math

import numpy as np
from pysat.solvers import Solver

from satbench.errors import SatbenchError
from satbench.generators.formula import Formula
from satbench.generators.solving import assignments_from_indices

METHODS = ("enumeration", "rejection", "solver")
ENUMERATION_MAX_VARS = 20
PROBE_DRAWS = 1 << 16  # first rejection batch; its hit rate decides between rejection and solver
REJECTION_WORK = 1 << 32  # draws x clauses for rejection: 2^24 draws (~1 s) at m = 256
EXHAUST_MIN = 1 << 12  # classes this small (or <= 2 * count) are listed exactly by the solver
EXHAUST_MAX = 1 << 16  # ... but never more than this many blocking clauses (~1.5 s at n=64)
SOLVER = "minisat22"  # deterministic: same clauses, phases and assumptions -> same model
CONFLICT_BUDGET = 1_000_000  # per solver call; beyond it the formula is too hard to sample
ASSUMPTION_CONFLICTS = 1_000  # per solver run under random assumptions (baseline starts)
MAX_CELLS = 256  # hashing cells per call
CELL_SLACK = 8  # cells aim at CELL_CAP / CELL_SLACK members, so few go over the cap
CELL_CAP = 2048  # most members of one hashing cell (bigger cells cost superlinearly to list)
MAX_XORS = 16  # XOR constraints per cell; more make the solver slow (see _xor_cells)
XOR_LENGTH = 12  # variables per XOR constraint
CELL_PROPAGATIONS = 4_000_000  # solver work for listing, plus PROPAGATIONS_PER_MEMBER * count;
PROPAGATIONS_PER_MEMBER = 400  # 6 M, about a second at n=64, for count=5000
MAX_WALKERS = 1 << 14  # parallel chains (memory n * MAX_WALKERS / 8 bytes)
# Sweeps (n chain steps each) before the first collection. Measured at n=64: a cell's shared
# parities are gone after 2, and 256 more sweeps move no marginal measurably (module docstring).
BURN_IN_SWEEPS = 8
THIN_SWEEPS = 2  # sweeps between later collections
STALL_ROUNDS = 8  # collections in a row without a new assignment before giving up
_MAX_WORDS = 1 << 21  # cap on uint64 words per temporary array (16 MB)
_ONES = np.uint64(0xFFFFFFFFFFFFFFFF)


def sample_class(
    formula: Formula, value: bool, count: int, rng: np.random.Generator, *,
    method: str | None = None,
) -> tuple[np.ndarray, str]:
    """`count` distinct assignments of class `value`, uniformly without replacement, and the method.

    Returns a (count, n_vars) bool array (variable v is column v-1) in random order. The result is a
    function of the formula, value, count and rng state. method forces "enumeration" (n_vars <= 26),
    "rejection" (raises if it runs out of draws) or "solver"; by default it is chosen as described
    in the module docstring.
    """
    value = bool(value)
    if not isinstance(count, int | np.integer) or count < 0:
        raise SatbenchError(f"count: expected a non-negative integer, got {count!r}")
    if method is not None and method not in METHODS:
        raise SatbenchError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    count = int(count)
    n = formula.n_vars
    if method == "enumeration" or (method is None and n <= ENUMERATION_MAX_VARS):
        if n > 26:
            raise SatbenchError(f"method: enumeration lists all 2^n assignments; n_vars={n} is "
                                "too many (at most 26)")
        return _by_enumeration(formula, value, count, rng), "enumeration"
    if count == 0:
        return np.zeros((0, n), dtype=bool), method or "rejection"
    if method != "solver":
        evaluator = _ClassEvaluator(formula, value)
        rows = _by_rejection(evaluator, count, rng, forced=method == "rejection")
        if rows is not None:
            return rows, "rejection"
    return _by_solver(formula, value, count, rng), "solver"


def _sign(value: bool) -> str:
    return "positive" if value else "negative"


def _describe(value: bool) -> str:
    return f"{'satisfying' if value else 'falsifying'} ({_sign(value)})"


# ---------------------------------------------------------------------------------------------
# Bit-sliced evaluation


class _ClassEvaluator:
    """Class membership of bit-sliced assignments: (n, W) uint64 words -> (W,) uint64 bits."""

    def __init__(self, formula: Formula, value: bool):
        n = formula.n_vars
        lits = formula.literal_array
        # Row of each literal in the table [x_1..x_n, ~x_1..~x_n, neutral]; the neutral row (all 0
        # for a disjunction, all 1 for a conjunction) absorbs the zero padding of short clauses.
        self.index = np.where(lits > 0, lits - 1, np.where(lits < 0, n - lits - 1, 2 * n))
        self.n_vars = n
        self.n_clauses = formula.n_clauses
        self.disjunctive = formula.form == "cnf"  # clauses are disjunctions, formula a conjunction
        self.value = value
        # Columns per chunk so that the (m, columns) clause array stays under _MAX_WORDS.
        self.chunk = max(1, _MAX_WORDS // max(self.n_clauses, 2 * n + 1))

    def __call__(self, words: np.ndarray) -> np.ndarray:
        out = np.empty(words.shape[1], dtype=np.uint64)
        for start in range(0, words.shape[1], self.chunk):
            x = words[:, start : start + self.chunk]
            out[start : start + x.shape[1]] = self._formula_bits(x)
        return out if self.value else ~out

    def _formula_bits(self, x: np.ndarray) -> np.ndarray:
        if self.n_clauses == 0:  # the empty conjunction is true, the empty disjunction false
            return np.full(x.shape[1], _ONES if self.disjunctive else 0, dtype=np.uint64)
        neutral = np.full((1, x.shape[1]), 0 if self.disjunctive else _ONES, dtype=np.uint64)
        table = np.concatenate([x, ~x, neutral])
        clause = table[self.index[:, 0]]
        for column in range(1, self.index.shape[1]):
            if self.disjunctive:
                clause |= table[self.index[:, column]]
            else:
                clause &= table[self.index[:, column]]
        if self.disjunctive:
            return np.bitwise_and.reduce(clause, axis=0)
        return np.bitwise_or.reduce(clause, axis=0)


def _bits_to_bool(bits: np.ndarray) -> np.ndarray:
    """(W,) uint64 -> (64 W,) bool, bit b of word w at position 64 w + b."""
    return np.unpackbits(bits.astype("<u8").view(np.uint8), bitorder="little").astype(bool)


def _pack(rows: np.ndarray) -> np.ndarray:
    """(N, n) bool rows -> (n, ceil(N / 64)) bit-sliced uint64 words (padding bits are 0)."""
    n_words = -(-len(rows) // 64)
    padded = np.zeros((rows.shape[1], 64 * n_words), dtype=bool)
    padded[:, : len(rows)] = rows.T
    return np.packbits(padded, axis=1, bitorder="little").view("<u8").astype(np.uint64)


def _unpack(words: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The assignments at bit positions `columns` of bit-sliced words, as (len, n) bool rows."""
    columns = np.asarray(columns, dtype=np.int64)
    shifts = (columns % 64).astype(np.uint64)
    return ((words[:, columns // 64] >> shifts) & np.uint64(1)).T.astype(bool)


class _Distinct:
    """Rows kept in order of first appearance, duplicates dropped."""

    def __init__(self, n_vars: int):
        self.n_vars = n_vars
        self.keys: set[bytes] = set()
        self.rows: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, rows: np.ndarray, limit: int | None = None) -> int:
        """Add new rows (at most up to `limit` kept in all); returns how many were new."""
        packed = np.packbits(rows, axis=1)
        new = []
        for i, row in enumerate(packed):
            if limit is not None and len(self.keys) >= limit:
                break
            key = row.tobytes()
            if key not in self.keys:
                self.keys.add(key)
                new.append(i)
        if new:
            self.rows.append(rows[new])
        return len(new)

    def array(self) -> np.ndarray:
        if not self.rows:
            return np.zeros((0, self.n_vars), dtype=bool)
        return np.concatenate(self.rows)


# ---------------------------------------------------------------------------------------------
# Exact methods


def _by_enumeration(formula: Formula, value: bool, count: int, rng) -> np.ndarray:
    n = formula.n_vars
    total = 1 << n
    if count == 0:
        return np.zeros((0, n), dtype=bool)
    # Assignment i (bit v-1 of i is variable v) sits at bit i % 64 of word i // 64. Variables 1..6
    # follow a fixed pattern within each word; variable v > 6 is constant across a word.
    n_words = max(1, total // 64)
    bit = np.arange(64, dtype=np.uint64)
    word = np.arange(n_words, dtype=np.uint64)
    words = np.empty((n, n_words), dtype=np.uint64)
    for v in range(n):
        if v < 6:
            pattern = np.bitwise_or.reduce(((bit >> np.uint64(v)) & np.uint64(1)) << bit)
            words[v] = pattern
        else:
            words[v] = np.where((word >> np.uint64(v - 6)) & np.uint64(1), _ONES, np.uint64(0))
    members = np.flatnonzero(_bits_to_bool(_ClassEvaluator(formula, value)(words))[:total])
    if len(members) < count:
        raise SatbenchError(_too_few_enumerated(formula, value, count, len(members)))
    chosen = rng.choice(members, size=count, replace=False)
    return assignments_from_indices(chosen, n)


def _too_few_enumerated(formula: Formula, value: bool, count: int, found: int) -> str:
    what = _describe(value)
    if found == 0:
        return (f"formula has no {what} assignments (checked all 2^{formula.n_vars}); cannot draw "
                f"{_sign(value)} samples")
    return (f"only {found} of the 2^{formula.n_vars} assignments are {what}, but {count} "
            "distinct ones were requested")


def _rejection_max_draws(n_clauses: int) -> int:
    """Draws affordable in about a second: the cost of a draw grows with the clauses."""
    return REJECTION_WORK // max(n_clauses, 64) // 64 * 64


def _by_rejection(evaluator: _ClassEvaluator, count: int, rng, forced: bool) -> np.ndarray | None:
    """Uniform draws, new class members kept in order: a uniform draw without replacement.

    Returns None (unless forced) when the probe predicts more than _rejection_max_draws draws, or
    when twice that runs out before `count` distinct members appear (a class barely larger than
    count); the solver path then takes over.
    """
    n = evaluator.n_vars
    found = _Distinct(n)
    drawn, batch = 0, PROBE_DRAWS
    max_draws = _rejection_max_draws(evaluator.n_clauses)
    budget = 2 * max_draws  # room for duplicates and for an optimistic probe
    max_batch = 64 * max(1, _MAX_WORDS // (2 * n + 1))
    while len(found) < count and drawn < budget:
        words = rng.bit_generator.random_raw((n, batch // 64))
        hits = np.flatnonzero(_bits_to_bool(evaluator(words)))
        # Unpack the hits a block at a time, and only while more are needed: a common class can
        # give many more hits than the request, at 8 bytes per hit and variable to unpack.
        for start in range(0, len(hits), max(1, _MAX_WORDS // n)):
            if len(found) >= count:
                break
            found.add(_unpack(words, hits[start : start + max(1, _MAX_WORDS // n)]), limit=count)
        drawn += batch
        if drawn == PROBE_DRAWS and not forced:
            # A probe with no hits, or a hit rate that needs too many draws: use the solver.
            if len(hits) == 0 or count * PROBE_DRAWS / len(hits) > max_draws:
                return None
        # Next batch: about what the hit rate says is still needed, with a margin.
        rate = max(len(hits), 1) / batch
        wanted = int(1.25 * (count - len(found)) / rate) + 64
        batch = int(min(max(wanted, PROBE_DRAWS), max_batch, budget)) // 64 * 64
    if len(found) < count:
        if forced:
            raise SatbenchError(
                f"rejection found only {len(found)} distinct class members in {drawn} draws, but "
                f"{count} were requested")
        return None
    return found.array()


# ---------------------------------------------------------------------------------------------
# Solver path


def class_cnf(formula: Formula, value: bool) -> list[list[int]]:
    """Clauses over variables 1..n (+ auxiliaries n+1..) whose models, projected onto 1..n, are
    exactly the assignments x with formula(x) == value.
    """
    n = formula.n_vars
    clauses = [list(c) for c in formula.clauses]
    if (formula.form == "cnf") == value:
        # cnf & True: the formula itself. dnf & False: every term false, i.e. one clause of the
        # negated literals per term.
        cnf = clauses if value else [[-lit for lit in c] for c in clauses]
    else:
        # cnf & False: some clause has every literal false. dnf & True: some term has every literal
        # true. Auxiliary a_j (variable n+j) implies "clause j is all false" (resp. "term j is all
        # true"), and at least one a_j holds. One direction suffices: a model projects onto a
        # class member, and every class member extends to a model.
        sign = 1 if value else -1
        cnf = [[-(n + j), sign * lit] for j, c in enumerate(clauses, start=1) for lit in c]
        cnf.append([n + j for j in range(1, len(clauses) + 1)])  # empty -> the UNSAT empty clause
    # A tautology on variable n makes the solver create all of 1..n, so every model names every
    # variable, even one that occurs in no clause.
    return [*cnf, [n, -n]]


def _solve(solver: Solver, assumptions=(), budget: int = CONFLICT_BUDGET) -> bool | None:
    solver.conf_budget(budget)
    return solver.solve_limited(assumptions=list(assumptions))


def _parity_clauses(variables: list[int], parity: int) -> list[list[int]]:
    """Clauses saying that the XOR of `variables` equals `parity`: one per wrong-parity pattern."""
    clauses = []
    for pattern in range(1 << len(variables)):
        signs = [(pattern >> i) & 1 for i in range(len(variables))]
        if sum(signs) % 2 != parity:  # forbid this assignment: every literal is false under it
            clauses.append([-v if bit else v for v, bit in zip(variables, signs, strict=True)])
    return clauses


def xor_cnf(rows: np.ndarray, parities: np.ndarray, first_aux: int) -> list[list[int]] | None:
    """CNF for the XOR constraints rows @ x = parities (mod 2); row column v-1 is variable v.

    A long XOR is cut into pieces of three variables, each defining a fresh auxiliary variable
    (numbered from first_aux) as their XOR, so every piece costs 8 clauses of width 4. None if a
    constraint is the unsatisfiable 0 = 1.
    """
    clauses, aux = [], first_aux
    for row, parity in zip(rows, parities, strict=True):
        variables = [int(v) + 1 for v in np.flatnonzero(row)]
        if not variables:
            if parity:
                return None
            continue
        while len(variables) > 4:
            clauses += _parity_clauses([*variables[:3], aux], 0)  # aux = XOR of the three
            variables = [*variables[3:], aux]
            aux += 1
        clauses += _parity_clauses(variables, int(parity))
    return clauses


class _Lister:
    """Lists models projected onto 1..n with blocking clauses, under one shared budget of solver
    propagations (deterministic, unlike time; minisat makes 4-7 million a second here)."""

    def __init__(self, n: int, propagations: int):
        self.n = n
        self.propagations = propagations

    def list(self, clauses: list[list[int]], cap: int) -> list[np.ndarray] | None:
        """All projected models, or None when there are more than `cap` or the budget ran out."""
        rows: list[np.ndarray] = []
        charged = 0  # propagations of this solver already taken from the budget
        with Solver(name=SOLVER, bootstrap_with=clauses) as solver:
            while len(rows) <= cap and self.propagations > 0:
                solver.prop_budget(self.propagations)
                answer = _solve(solver)
                spent = solver.accum_stats()["propagations"]
                self.propagations -= spent - charged
                charged = spent
                if answer is None:
                    return None
                if not answer:
                    return rows
                model = solver.get_model()[: self.n]
                rows.append(np.array(model) > 0)
                solver.add_clause([-lit for lit in model])
        return None


def _by_solver(
    formula: Formula, value: bool, count: int, rng, *, exhaust: bool = True,
    starts: str = "cells", burn_in_sweeps: int = BURN_IN_SWEEPS,
) -> np.ndarray:
    """The solver path. The keywords are for measuring its parts (benchmarks/sampling_uniformity):
    exhaust=False skips listing a small class in full, starts="phases" takes starting points
    from solver runs under random phases and assumptions (the first design, kept as a baseline),
    burn_in_sweeps=0 skips the Markov chain.
    """
    n = formula.n_vars
    cnf = class_cnf(formula, value)
    what, sign = _describe(value), _sign(value)
    with Solver(name=SOLVER, bootstrap_with=cnf) as solver:
        answer = _solve(solver)
    if answer is None:
        raise SatbenchError(f"the solver could not decide within {CONFLICT_BUDGET} conflicts "
                            f"whether {what} assignments exist; cannot draw {sign} samples")
    if not answer:
        raise SatbenchError(f"formula has no {what} assignments (the solver proved it "
                            f"{'UNSAT' if value else 'valid'}); cannot draw {sign} samples")
    if starts == "phases":
        found = _phase_starts(cnf, n, count, rng)
    else:
        found, complete = _xor_cells(cnf, n, count, rng, exhaust=exhaust)
        if complete:  # the whole class is listed: choose exactly
            if len(found) < count:
                raise SatbenchError(f"only {len(found)} assignments are {what} (the solver "
                                    f"listed them all), but {count} distinct ones were requested")
            return found[rng.choice(len(found), size=count, replace=False)]
        if len(found) < count:
            # The cells ran out of budget (a huge class needs many XORs, which CDCL solvers find
            # hard): top up with biased but cheap starting points for the chain to even out.
            extra = _phase_starts(cnf, n, count - len(found), rng)
            found = np.unique(np.concatenate([found, extra]), axis=0)
    if burn_in_sweeps > 0:
        found = _markov_chain(formula, value, found, count, rng, burn_in_sweeps)
    if len(found) < count:
        raise SatbenchError(f"found only {len(found)} distinct {what} assignments, but {count} "
                            "were requested (the sampler stopped finding new ones)")
    return found[rng.choice(len(found), size=count, replace=False)]


def _xor_cells(
    cnf: list[list[int]], n: int, count: int, rng, *, exhaust: bool = True,
) -> tuple[np.ndarray, bool]:
    """Distinct class members, each member about equally likely to be among them (hashing cells).

    A cell is the set of class members x with A x = b (mod 2) for k random XOR constraints: row i
    of A picks XOR_LENGTH random variables, b is uniform. Whatever A is, a given member lies in the
    cell with probability exactly 2^-k (b is uniform), so the union of whole cells is an unbiased
    sample of the class however the class is clustered; only the cells dropped for going over the
    cap, the stopping rule and the choice of k bias it, slightly. Dense rows (n/2 variables) would
    also make cell sizes concentrate (pairwise independence), but CDCL solvers find long XORs very
    hard: at n = 64 and k = 12-14, listing costs 8-54 ms per member with 32-variable XORs, 0.2-0.8
    ms with 16 and 0.01-0.4 ms with 8 (whose cell sizes vary much more, which showed as bias in
    the measurements). 12 is the compromise, and cells aim at CELL_SLACK times fewer members than
    the cap so that few are dropped. (Subcube cells, random assumptions on k variables, are just
    as unbiased on average but useless in practice: with frozen variables, cells are mostly empty
    or huge.)

    With exhaust=True the first cell is the whole class (k = 0), listed exactly when it has at most
    max(2 count, EXHAUST_MIN) members; complete=True then says the result is the whole class.
    Later cells aim at cap / CELL_SLACK members, k following the class size estimated from the
    cells so far, up to MAX_XORS; a class too large for that returns what was found, and the caller
    tops it up. Bounded by MAX_CELLS cells and a budget of solver propagations.
    Returns (members, complete).
    """
    first_aux = max([n, *(abs(lit) for clause in cnf for lit in clause)]) + 1
    lister = _Lister(n, CELL_PROPAGATIONS + PROPAGATIONS_PER_MEMBER * count)
    found = _Distinct(n)
    cap = min(max(2 * count, 64), CELL_CAP)
    target = cap / CELL_SLACK
    k = 1
    if exhaust:
        limit = min(max(2 * count, EXHAUST_MIN), EXHAUST_MAX)
        members = lister.list(cnf, limit)
        if members is not None:
            return np.array(members, dtype=bool).reshape(len(members), n), True
        # Over `limit` members: guess 4 times that many.
        k = max(1, round(math.log2(4 * limit / target)))
    listed, weight = 0, 0.0  # class size estimate: members listed / expected share of cells
    for _ in range(MAX_CELLS):
        if len(found) >= count or lister.propagations <= 0 or k > MAX_XORS:
            break
        # Each XOR on XOR_LENGTH random variables (all of them, at random, for small n).
        length = min(XOR_LENGTH, n // 2)
        picked = np.argsort(rng.random((k, n)), axis=1)[:, :length]
        rows = np.zeros((k, n), dtype=np.uint8)
        np.put_along_axis(rows, picked, 1, axis=1)
        extra = xor_cnf(rows, rng.integers(0, 2, size=k), first_aux)
        members = [] if extra is None else lister.list(cnf + extra, cap)
        if members is None:  # over the cap (or out of budget): cells 8 times smaller
            k += 3
            continue
        if members:
            found.add(np.array(members, dtype=bool))
        listed += len(members)
        weight += 2.0**-k
        if listed == 0:
            k = max(1, k - 1)
        else:
            k = min(MAX_XORS, max(1, round(math.log2(listed / weight / target))))
    return found.array(), False


def _phase_starts(cnf: list[list[int]], n: int, count: int, rng) -> np.ndarray:
    """Up to `count` distinct models, one per solver run under random phases and assumptions.

    The first design's starting points, kept as a baseline and as a fallback: they favour members
    with large basins, and the chain evens that out only slowly (see the uniformity numbers).
    """
    literals = np.arange(1, n + 1)
    found = _Distinct(n)
    with Solver(name=SOLVER, bootstrap_with=cnf) as solver:
        for _ in range(4 * count):
            if len(found) >= count:
                break
            signed = np.where(rng.integers(0, 2, size=n) == 1, literals, -literals)
            solver.set_phases(signed.tolist())
            assumed = signed[rng.permutation(n)[: n // 8]].tolist()
            if not _solve(solver, assumed, ASSUMPTION_CONFLICTS) and not _solve(solver):
                break  # satisfiable (checked), so the solver gave up
            found.add(np.array(solver.get_model()[:n])[None] > 0)
    return found.array()


def _markov_chain(
    formula: Formula, value: bool, starts: np.ndarray, count: int, rng, burn_in_sweeps: int,
) -> np.ndarray:
    """Distinct class members collected from parallel Metropolis walkers started at `starts`.

    Each step flips every variable of every walker independently with probability q = 2^-j
    (about 1/n, j ANDs of random words) and keeps the flips iff the walker stays in the class. The
    flip set does not depend on the state, so the proposal is symmetric, and any set can be drawn,
    so the chain is irreducible: its stationary distribution is uniform over the whole class.
    Started from nearly uniform points it stays nearly uniform; it spreads out members that share
    a cell's parities, and it turns fewer starting points than `count` into more members (later
    collections, THIN_SWEEPS apart, are correlated with earlier ones).
    """
    n = formula.n_vars
    evaluator = _ClassEvaluator(formula, value)
    n_walkers = min(len(starts), MAX_WALKERS)
    words = _pack(starts[rng.choice(len(starts), size=n_walkers, replace=False)])
    j = max(1, round(math.log2(n)))

    def sweeps(k: int) -> None:
        for _ in range(k * n):
            flips = rng.bit_generator.random_raw(words.shape)
            for _ in range(j - 1):
                flips &= rng.bit_generator.random_raw(words.shape)
            # Padding walkers (bits past n_walkers) move too but are never collected.
            words[...] ^= flips & evaluator(words ^ flips)

    found = _Distinct(n)
    sweeps(burn_in_sweeps)
    # Collect every walker, then every THIN_SWEEPS sweeps, until count distinct are found. The
    # round cap allows a few times the rounds that distinct states would need; a run of rounds
    # with nothing new means the chain has (nearly) exhausted what it can reach.
    max_rounds = 4 * -(-count // n_walkers) + STALL_ROUNDS
    stalled = 0
    for _ in range(max_rounds):
        new = found.add(_unpack(words, np.arange(n_walkers)))
        stalled = 0 if new else stalled + 1
        if len(found) >= count or stalled >= STALL_ROUNDS:
            break
        sweeps(THIN_SWEEPS)
    return found.array()

"""How uniform is the approximate solver sampler? Measured where the truth is known.

For each formula the class is listed in full (all 2^n assignments for n <= 20, else blocking-
clause enumeration). The solver path draws `count` distinct members per run over many seeded
runs; the script prints the total-variation distance between the empirical distribution of all
draws and the uniform distribution over the class, next to the TV distance of an exactly uniform
sampler making the same draws (the noise floor: TV to uniform is never 0 for finite draws), and
chi-square p-values for both. Pearson's statistic is divided by (1 - count / K) because draws
within a run are without replacement, which makes cell counts less dispersed than multinomial.

Variants of the solver path:
- "solver": what sample_class uses (XOR hashing cells, then the Markov chain);
- "cells only": the hashing cells without the chain;
- "phase starts + chain": solver runs under random phases and assumptions, then the chain (the
  first design, kept as the baseline).
The small formulas (n = 14-18, classes of 30-16,000) switch off the exact listing of small
classes (exhaust=False) so that the approximate machinery is what gets measured; the n = 64
case runs the solver path exactly as sample_class does.

With --large it also checks classes too large to list (planted 3-CNF, n=64, m=256, seeds 0, 1
and 3: 0.5-3 million positives). A uniform sample is stationary for the chain, so running the
chain much longer (256 sweeps) from the sampler's output should not move it: the script prints
the largest shift of a per-variable marginal, in standard errors of independent draws (an
understatement: members of one cell are correlated), for the solver's starting points and for
the baseline's.

Run: python benchmarks/sampling_uniformity.py [--scale 1.0] [--large]
"""

import argparse
import time

import numpy as np
import torch

from satbench.generators.formula import Formula
from satbench.generators.random_formula import random_formula
from satbench.generators.sampling import BURN_IN_SWEEPS, _by_solver, _Lister, class_cnf
from satbench.rng import numpy_rng

VARIANTS = {
    "solver": {},
    "cells only": {"burn_in_sweeps": 0},
    "phase starts + chain": {"starts": "phases"},
}

# (label, formula, value, count per run or None for a quarter of the class, draws per member,
# exhaust). Near the threshold (m/n ~ 4) classes at n = 16-18 hold only tens to hundreds.
CASES = [
    ("planted 3-CNF n=16 m=64, positives",
     random_formula(16, 64, 3, "cnf", 0, planted=True), True, None, 50, False),
    ("planted 3-CNF n=18 m=72, positives",
     random_formula(18, 72, 3, "cnf", 3, planted=True), True, None, 50, False),
    ("planted 3-CNF n=18 m=63, positives",
     random_formula(18, 63, 3, "cnf", 3, planted=True), True, None, 50, False),
    ("3-DNF n=16 m=40, negatives", random_formula(16, 40, 3, "dnf", 4), False, None, 50, False),
    ("3-DNF n=18 m=54, negatives", random_formula(18, 54, 3, "dnf", 1), False, None, 50, False),
    ("3-DNF n=18 m=45, negatives", random_formula(18, 45, 3, "dnf", 1), False, None, 50, False),
    ("4-DNF n=14 m=6, positives", random_formula(14, 6, 4, "dnf", 6), True, None, 50, False),
    ("planted 3-CNF n=14 m=56, negatives",
     random_formula(14, 56, 3, "cnf", 7, planted=True), False, None, 20, False),
    ("planted 3-CNF n=64 m=256 (seed 2), 5000 positives, as sample_class runs it",
     random_formula(64, 256, 3, "cnf", 2, planted=True), True, 5000, 3, True),
]


def class_members(formula: Formula, value: bool) -> np.ndarray:
    """Every member of the class, as bool rows."""
    n = formula.n_vars
    if n <= 20:
        everything = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)
        return everything[formula.evaluate(everything)[1] == value]
    members = _Lister(n, 10**12).list(class_cnf(formula, value), 1 << 20)
    if members is None:
        raise SystemExit(f"class of {formula.n_vars} variables too large to list")
    return np.array(members, dtype=bool)


def statistics(counts: np.ndarray, draws: int, per_run: int) -> tuple[float, float]:
    """(TV distance to uniform, chi-square p-value corrected for draws without replacement)."""
    size = len(counts)
    tv = 0.5 * np.abs(counts / draws - 1 / size).sum()
    expected = draws / size
    chi2 = ((counts - expected) ** 2 / expected).sum() / (1 - per_run / size)
    p = torch.special.gammaincc(torch.tensor((size - 1) / 2, dtype=torch.float64),
                                torch.tensor(chi2 / 2, dtype=torch.float64))
    return float(tv), float(p)


def measure(label, formula, value, count, draws_per_member, exhaust, scale) -> None:
    members = class_members(formula, value)
    size = len(members)
    index = {row.tobytes(): i for i, row in enumerate(np.packbits(members, axis=1))}
    # A quarter of the class per run (at most 1024) unless given: the solver path lists classes
    # of up to 2 * count members exactly instead.
    per_run = count or max(1, min(size // 4, 1024))
    runs = max(4, int(round(scale * draws_per_member * size / per_run)))
    draws = runs * per_run
    floor = np.zeros(size)
    exact = numpy_rng(0, "uniformity-floor")
    for _ in range(runs):
        floor[exact.choice(size, per_run, replace=False)] += 1
    tv_floor, p_floor = statistics(floor, draws, per_run)
    print(f"{label}: class size {size}, {runs} runs x {per_run} = {draws} draws")
    print(f"  {'exactly uniform (floor)':22s} TV {tv_floor:.4f}  chi2 p {p_floor:.3f}")
    for name, options in VARIANTS.items():
        counts = np.zeros(size)
        start = time.perf_counter()
        for run in range(runs):
            rows = _by_solver(formula, value, per_run, numpy_rng(run, "uniformity"),
                              exhaust=exhaust, **options)
            hits = [index.get(row.tobytes(), -1) for row in np.packbits(rows, axis=1)]
            assert min(hits) >= 0 and len(set(hits)) == per_run, "non-member or duplicate"
            counts[hits] += 1
        tv, p = statistics(counts, draws, per_run)
        print(f"  {name:22s} TV {tv:.4f}  chi2 p {p:.3g}  "
              f"({(time.perf_counter() - start) / runs * 1e3:.0f} ms/run)")


def stationarity(seed: int, runs: int = 4, count: int = 5000, long: int = 256) -> None:
    formula = random_formula(64, 256, 3, "cnf", seed, planted=True)
    se = np.sqrt(2 * 0.25 / (runs * count))  # of a difference of two marginals

    def marginals(**options) -> np.ndarray:
        return np.concatenate([_by_solver(formula, True, count, numpy_rng(run, "stationarity"),
                                          **options) for run in range(runs)]).mean(axis=0)

    print(f"planted 3-CNF n=64 m=256 (seed {seed}), {runs} runs x {count} positives: largest "
          f"marginal shift after {long} more sweeps, in standard errors")
    for name, starts in (("solver starts (cells)", "cells"), ("phase starts", "phases")):
        short = marginals(starts=starts, burn_in_sweeps=BURN_IN_SWEEPS)
        longer = marginals(starts=starts, burn_in_sweeps=BURN_IN_SWEEPS + long)
        print(f"  {name:22s} {np.abs(short - longer).max() / se:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the number of runs")
    parser.add_argument("--large", action="store_true",
                        help="also check classes too large to list (a few minutes)")
    args = parser.parse_args()
    print(f"Markov chain burn-in: {BURN_IN_SWEEPS} sweeps")
    for label, formula, value, count, draws_per_member, exhaust in CASES:
        measure(label, formula, value, count, draws_per_member, exhaust, args.scale)
    if args.large:
        for seed in (0, 1, 3):
            stationarity(seed)


if __name__ == "__main__":
    main()

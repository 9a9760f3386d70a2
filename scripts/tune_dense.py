"""Tune the training defaults on the DENSE baseline only (never on FPE), as the methods require.

For each (learning rate, total steps, training-set size) it trains the dense MLP on a few cells
and seeds and prints mean test and train accuracy. Run: python scripts/tune_dense.py > out.md
"""

import itertools
import statistics
import sys
import time

from satbench.runs import RunSpec
from satbench.specs import TaskSpec, TrainingContext
from satbench.training.rows import train_and_evaluate

CELLS = [(8, 8), (8, 16), (4, 16), (16, 8), (8, 32)]  # (neurons, clauses)
SEEDS = range(3)
LEARNING_RATES = [3e-3, 1e-2, 3e-2, 1e-1]
TOTAL_STEPS = [600, 2000]
TRAIN_SIZES = [4096, 16384]


def main(grid=None) -> None:
    print("| lr | steps | n_train | " + " | ".join(f"h={h} m={m}" for h, m in CELLS)
          + " | mean test | mean train |")
    print("|" + "---|" * (len(CELLS) + 5))
    grid = grid or itertools.product(LEARNING_RATES, TOTAL_STEPS, TRAIN_SIZES)
    for lr, steps, n_train in grid:
        start = time.perf_counter()
        tests, trains, cells = [], [], []
        for neurons, clauses in CELLS:
            cell = []
            for seed in SEEDS:
                task = TaskSpec(n_vars=32, n_clauses=clauses, form="dnf", n_train=n_train,
                                n_test=2048, seed=seed)
                context = TrainingContext(task, neurons=neurons, warmup_steps=steps // 2,
                                          expanded_steps=steps // 2, learning_rate=lr, seed=seed)
                (row,) = train_and_evaluate([RunSpec(context, "dense")])
                cell.append(row["test_accuracy"])
                tests.append(row["test_accuracy"])
                trains.append(row["train_accuracy"])
            cells.append(f"{statistics.mean(cell):.3f}")
        print(f"| {lr:g} | {steps} | {n_train} | " + " | ".join(cells)
              + f" | {statistics.mean(tests):.4f} | {statistics.mean(trains):.4f} |", flush=True)
        print(f"  ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    # Optional: only the rows for one learning rate, e.g. `python scripts/tune_dense.py 0.1`.
    rates = [float(a) for a in sys.argv[1:]] or LEARNING_RATES
    main(list(itertools.product(rates, TOTAL_STEPS, TRAIN_SIZES)))

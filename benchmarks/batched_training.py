"""Batched against one-at-a-time training of the same models, side by side in one process.

16 training contexts x 4 methods (dense, fpe, wide_dense, sparse_scratch) = 64 models: h = 8,
alpha = 2, 3-DNF on n = 32 variables (d = 32 inputs) with m = 8, 16, 24, 32 clauses and four seeds
each, 4096 training rows, learning rate 0.1. Each configuration is trained once with
train_runs_batched and once context by context with train_runs, under each torch thread count
asked for; the script prints wall and CPU times, the speedup of the batched trainer over the best
one-at-a-time setting, and how closely the two agree (max |weight difference| and the fraction of
test rows predicted alike).

Run: python benchmarks/batched_training.py [--steps 200] [--batch-sizes 256 0] [--threads 1 2]
[--runs 16] (--steps is T1 = T2; batch size 0 is the full batch; --runs counts contexts). Both
trainers run FPE's expansion (the clause splitter) context by context, a fixed cost that the
script prints; the longer the training, the less it weighs. On a machine whose cores are busy with
other work, two torch threads can be many times slower than one (OpenMP threads wait on each
other), for either trainer.
"""

import argparse
import os
import time

import torch

from satbench.generators.dataset import build_dataset
from satbench.models import MLP, SplitContext, expand
from satbench.rng import numpy_rng, torch_generator
from satbench.runs import RunSpec, runs_for
from satbench.specs import TaskSpec, TrainingContext
from satbench.training.batched import train_runs_batched
from satbench.training.single import train_runs

METHODS = ("dense", "fpe", "wide_dense", "sparse_scratch")


def make_runs(steps: int, batch_size: int, n_contexts: int) -> list[RunSpec]:
    """Every method's run in each of n_contexts training contexts, context by context."""
    runs = []
    for index in range(n_contexts):
        clauses = (8, 16, 24, 32)[index % 4]
        task = TaskSpec(n_vars=32, n_clauses=clauses, width=3, form="dnf", n_train=4096,
                        n_test=2048, seed=index // 4)
        context = TrainingContext(task, neurons=8, warmup_steps=steps, expanded_steps=steps,
                                  learning_rate=0.1, batch_size=batch_size, seed=index)
        runs += runs_for(context, METHODS, alpha=2)
    return runs


def by_context(runs: list[RunSpec]) -> list[list[RunSpec]]:
    groups = {}
    for run in runs:
        groups.setdefault(run.context, []).append(run)
    return list(groups.values())


def expansion_seconds(runs, datasets) -> float:
    """Seconds the runs' FPE expansions take: the same unbatched code in both trainers."""
    start = time.perf_counter()
    for run in runs:
        if run.method != "fpe":
            continue
        context, params = run.context, run.params
        dataset = datasets[context.task.fingerprint]
        dense = MLP(context.task.n_inputs, context.neurons, context.task.n_outputs,
                    torch_generator(context.seed, "init", cell=context.cell))
        split_context = SplitContext.for_formula(dataset.formula, context.task.encoding)
        expand(dense, params.alpha, params.split, split_context,
               numpy_rng(context.seed, "split", cell=context.cell),
               output_scale=params.output_scale)
    return time.perf_counter() - start


def one_at_a_time(runs, datasets):
    """train_runs, context by context; the Trained runs in the order of `runs`."""
    trained = {}
    for group in by_context(runs):
        for result in train_runs(group, datasets[group[0].context.task.fingerprint]):
            trained[result.run.key] = result
    return [trained[run.key] for run in runs]


def timed(function, *args):
    """(wall seconds, CPU seconds of the process, result)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def agreement(runs, datasets, batched, solo) -> tuple[float, float]:
    """(max |weight difference| over all models, fraction of test predictions that agree)."""
    worst, same, total = 0.0, 0, 0
    for run, trained_b, trained_s in zip(runs, batched, solo, strict=True):
        assert trained_b.run == trained_s.run == run
        inputs = datasets[run.context.task.fingerprint].inputs("test")
        state_b, state_s = trained_b.model.state_dict(), trained_s.model.state_dict()
        for name, value in state_s.items():
            if value.is_floating_point():
                worst = max(worst, float((state_b[name] - value).abs().max()))
        with torch.no_grad():
            agree = (trained_b.model(inputs) > 0) == (trained_s.model(inputs) > 0)
        same, total = same + int(agree.sum()), total + agree.numel()
    return worst, same / total


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="T1 = T2 (default 200)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 0],
                        help="mini-batch sizes to run; 0 is the full batch (default 256 0)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=16, help="training contexts (default 16)")
    args = parser.parse_args(argv)

    tasks = {run.context.task for run in make_runs(1, 0, args.runs)}
    datasets = {task.fingerprint: build_dataset(task) for task in tasks}
    train_runs_batched(make_runs(2, 0, 1), datasets)  # warm up allocator and kernels
    print(f"{args.runs} contexts x {len(METHODS)} methods = {args.runs * len(METHODS)} models, "
          f"h=8, alpha=2, "
          f"d=32, n_train=4096, T1=T2={args.steps}; torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    for batch_size in args.batch_sizes:
        runs = make_runs(args.steps, batch_size, args.runs)
        label = "full batch" if batch_size == 0 else f"batch {batch_size}"
        times = {}
        torch.set_num_threads(1)
        print(f"[{label}] of which FPE expansion, unbatched in both, about "
              f"{expansion_seconds(runs, datasets):.2f} s", flush=True)
        for threads in args.threads:
            torch.set_num_threads(threads)
            wall_b, cpu_b, batched = timed(train_runs_batched, runs, datasets)
            wall_s, cpu_s, solo = timed(one_at_a_time, runs, datasets)
            times["batched", threads], times["one at a time", threads] = wall_b, wall_s
            worst, agree = agreement(runs, datasets, batched, solo)
            print(f"[{label}] threads={threads}: batched {wall_b:7.2f} s (CPU {cpu_b:6.2f} s)   "
                  f"one at a time {wall_s:7.2f} s (CPU {cpu_s:6.2f} s)   "
                  f"ratio {wall_s / wall_b:5.1f}x   max |dw| {worst:.1e}, "
                  f"test predictions agree {agree:.4%}", flush=True)
        best = {kind: min((seconds, threads) for (k, threads), seconds in times.items()
                          if k == kind) for kind in ("batched", "one at a time")}
        print(f"[{label}] best batched {best['batched'][0]:.2f} s ({best['batched'][1]} threads), "
              f"best one at a time {best['one at a time'][0]:.2f} s "
              f"({best['one at a time'][1]} threads): speedup "
              f"{best['one at a time'][0] / best['batched'][0]:.1f}x", flush=True)


if __name__ == "__main__":
    main()

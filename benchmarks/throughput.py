"""Training throughput against the machine's limits, side by side in one process.

For a slice of each preset asked for (its first training contexts, at the preset's own settings:
task, schedule, batch size, methods), this trains the batchable runs with the batched trainer and
then every run one at a time (train_runs, context by context), and prints for each trainer, and
for each method under the one-at-a-time trainer:
- useful FLOP/s: 6 x multiply-adds per example (the model's macs_per_example: non-zero weights,
  not masked zeros) x rows per step x the method's own steps (forward 2, backward 4: the weight
  gradient and the input gradient of the second layer, which bound the first's from above);
- the single-thread float32 matmul peak (torch.mm 1024 x 1024) and the memory bandwidth (a 64 MB
  torch.add), measured in the same run;
- a roofline bound for these skinny shapes: min(peak, arithmetic intensity x bandwidth), the
  intensity being one training step's useful FLOPs over the bytes it must move at least (the
  inputs read twice, hidden activations written and read four times, outputs twice, weights and
  Adam state read and written once), in float32, and the bandwidth that of the memory level its
  working set fits in (L2 up to 1 MB: a full batch of 4096 x 32 inputs does; else DRAM);
- the ratios: useful rate / peak and / roofline bound, and the batched trainer's speedup. Under
  one at a time, a method that starts from dense counts the dense warm-up in its wall time, and
  so in its useful work.
Everything runs on one thread (satbench pins training to one per worker).

Run: python benchmarks/throughput.py [--presets paper methods] [--contexts 2] [--steps T1,T2]
[--cells H,M ...] [--seeds K] [--no-single]
"""

import argparse
import time

import torch

from satbench.generators.dataset import build_dataset
from satbench.runs import RunSpec
from satbench.sweeps.presets import get_preset
from satbench.training.batched import train_runs_batched
from satbench.training.single import train_runs


def best_seconds(function, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def add_bandwidth(elements: int) -> float:
    """Bytes per second of torch.add over `elements` float32s (two read, one written)."""
    x, y, out = torch.randn(elements), torch.randn(elements), torch.empty(elements)
    repeats = max(1, (1 << 24) // elements)

    def adds():
        for _ in range(repeats):
            torch.add(x, y, out=out)

    return 3 * 4 * elements * repeats / best_seconds(adds)


def machine_limits() -> tuple[float, float, float]:
    """(matmul peak FLOP/s, DRAM bandwidth, cache bandwidth in bytes/s), single thread: the
    bandwidths of a 64 MB add and of one whose three 256 KB operands fit in L2."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    peak = 2 * 1024**3 / best_seconds(lambda: torch.mm(a, b))
    return peak, add_bandwidth(1 << 24), add_bandwidth(1 << 16)


def slice_of(preset: str, contexts: int, steps: tuple[int, int] | None,
             cells: list[tuple[int, int]] | None = None,
             seeds: int | None = None) -> list[RunSpec]:
    runs = get_preset(preset).runs()
    if cells:
        runs = [run for run in runs if (run.context.neurons, run.context.task.n_clauses) in cells]
    if seeds is not None:
        runs = [run for run in runs if run.context.seed < seeds]
    chosen = list(dict.fromkeys(run.context for run in runs))[:contexts]
    runs = [run for run in runs if run.context in chosen]
    if steps is None:
        return runs
    return [RunSpec(run.context.replace(warmup_steps=steps[0], expanded_steps=steps[1]),
                    run.method, run.params) for run in runs]


def rows_per_step(run: RunSpec) -> int:
    context = run.context
    full = context.task.n_train
    return full if context.batch_size in (0, None) or context.batch_size >= full \
        else context.batch_size


def useful_flops(trained, with_warmup: bool = False) -> float:
    """The run's own steps; with_warmup adds the dense T1 steps a method that starts from dense
    relies on (its wall_seconds include them)."""
    run = trained.run
    context, task = run.context, run.context.task
    flops = 6.0 * trained.model.macs_per_example() * rows_per_step(run) * \
        run.trainer.steps(context)
    if with_warmup and run.trainer.starts_from:
        dense = context.neurons * (task.n_inputs + task.n_outputs)
        flops += 6.0 * dense * rows_per_step(run) * context.warmup_steps
    return flops


def step_bytes(trained) -> float:
    """The least bytes one training step moves (module docstring), float32: its working set."""
    run, model = trained.run, trained.model
    task = run.context.task
    rows = rows_per_step(run)
    weights = model.trainable_parameters()
    return 4.0 * (2 * rows * task.n_inputs + 4 * rows * model.width + 2 * rows * task.n_outputs
                  + 6 * weights)


def one_at_a_time(runs, datasets):
    groups = {}
    for run in runs:
        groups.setdefault(run.context, []).append(run)
    return [t for group in groups.values()
            for t in train_runs(group, datasets[group[0].context.task.fingerprint])]


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def report_line(name: str, trained: list, seconds: float, limits, with_warmup=False) -> str:
    """One table line: the runs' useful rate against the peak and against the roofline bound of
    their working set's memory level (L2 when a step's bytes fit in 1 MB, else DRAM)."""
    peak, dram, cache = limits
    flops = sum(useful_flops(t, with_warmup) for t in trained)
    moved = sum(step_bytes(t) * t.run.trainer.steps(t.run.context) for t in trained)
    largest_step = max(step_bytes(t) for t in trained)
    level, bandwidth = ("L2", cache) if largest_step <= 1 << 20 else ("DRAM", dram)
    rate, intensity = flops / seconds, flops / moved
    bound = min(peak, intensity * bandwidth)
    return (f"| {name} | {seconds:.2f} | {flops / 1e9:.2f} | {rate / 1e9:.2f} | "
            f"{rate / peak:.1%} | {intensity:.1f} ({level}) | {bound / 1e9:.1f} | "
            f"{rate / bound:.1%} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["paper", "methods"])
    parser.add_argument("--contexts", type=int, default=2,
                        help="training contexts per preset (default 2)")
    parser.add_argument("--steps", default=None, help="T1,T2 instead of the preset's own")
    parser.add_argument("--cells", nargs="+", default=None, metavar="H,M",
                        help="only these (neurons, clauses) cells of each preset")
    parser.add_argument("--seeds", type=int, default=None,
                        help="only contexts of the first SEEDS seeds (with a large --contexts: "
                             "one context per cell and seed across the preset)")
    parser.add_argument("--no-single", action="store_true",
                        help="time the batched trainer only (the large presets' slices)")
    args = parser.parse_args(argv)
    cells = [tuple(int(v) for v in cell.split(",")) for cell in args.cells or []]
    steps = tuple(int(s) for s in args.steps.split(",")) if args.steps else None
    torch.set_num_threads(1)
    limits = machine_limits()
    print(f"single thread: matmul peak {limits[0] / 1e9:.1f} GFLOP/s, memory bandwidth "
          f"{limits[1] / 1e9:.1f} GB/s (DRAM, 64 MB add), {limits[2] / 1e9:.1f} GB/s (L2, 256 KB "
          f"add); torch {torch.__version__}")
    header = ("| trainer / method | wall s | useful GFLOP | GFLOP/s | of peak | FLOP/byte "
              "(level) | roofline GFLOP/s | of roofline |\n|---|---|---|---|---|---|---|---|")
    for preset in args.presets:
        runs = slice_of(preset, args.contexts, steps, cells, args.seeds)
        tasks = {run.context.task for run in runs}
        datasets = {task.fingerprint: build_dataset(task) for task in tasks}
        batchable = [run for run in runs if run.trainer.batchable]
        batched_seconds, batched = timed(train_runs_batched, batchable, datasets)
        lines = [report_line("batched (the batchable runs)", batched, batched_seconds, limits)]
        context = runs[0].context
        where = (f"\n{preset}: {len(runs)} runs in {len({run.context for run in runs})} contexts, "
                 f"first h={context.neurons}, "
                 f"m={context.task.n_clauses}, d={context.task.n_inputs}, "
                 f"T1+T2={context.warmup_steps}+{context.expanded_steps}, "
                 f"batch {context.batch_size or 'full'}")
        if args.no_single:
            print(where + "\n" + header + "\n" + lines[0])
            continue
        solo_seconds, _ = timed(one_at_a_time, batchable, datasets)
        single_seconds, single = timed(one_at_a_time, runs, datasets)
        lines += [report_line("one at a time (the same runs)", batched, solo_seconds, limits),
                  report_line("one at a time (every run)", single, single_seconds, limits)]
        for method in dict.fromkeys(t.run.method for t in single):
            mine = [t for t in single if t.run.method == method]
            lines.append(report_line(f"one at a time: {method}", mine,
                                     sum(t.wall_seconds for t in mine), limits, True))
        print(f"{where}; batched trainer {solo_seconds / batched_seconds:.1f}x faster than one at "
              f"a time on the batchable runs")
        print(header)
        print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Where does `grouped` beat `masked` on this CPU? The evidence for select_format's CPU rule.

For a grid of layer sizes (d inputs, h parents, alpha) and batch sizes, one shared-split FPE layer
(random-shared, pruned like every FPE layer) is timed forward+backward in the masked and the
grouped format side by side (benchmarks/kernels.py's interleaved medians, one thread, thread CPU
time). It prints each cell's grouped/masked ratio and what `select_format` picks there, then how
far three policies land from the faster format of each cell: always masked, always grouped, and
select_format's rule (satbench.kernels.formats.grouped_pays_on_cpu).

Run: python benchmarks/grouped_vs_masked.py [--quick] [--rounds 5]
"""

import argparse
import importlib.util
import itertools
import math
import sys
from pathlib import Path

import torch

from satbench.kernels import FPELinear, select_format
from satbench.models import MLP, SplitContext, expand
from satbench.rng import numpy_rng, torch_generator


def _kernel_bench():
    """benchmarks/kernels.py (a script beside this one, not a package module), imported by path."""
    name = "satbench_benchmarks_kernels"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("kernels.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


make_call, pick_clock, time_side_by_side = (getattr(_kernel_bench(), name) for name in (
    "make_call", "pick_clock", "time_side_by_side"))

DS, HS, ALPHAS, BATCHES = (32, 64, 128, 256), (8, 32, 128, 512), (2, 4), (1, 16, 256, 4096, 16384)
QUICK = (32, 128), (8, 128), (2, 4), (16, 4096, 16384)
MAX_WORK = 256 * 512 * 4096  # d*h*batch: skip the slowest cells


def shared_layers(d: int, h: int, alpha: int) -> dict[str, FPELinear]:
    dense = MLP(d, h, 1, torch_generator(0, "grouped-vs-masked", d, h))
    expansion = expand(dense, alpha, "random-shared", SplitContext.without_clauses(d),
                       numpy_rng(0, "grouped-vs-masked", d, h))
    return {fmt: FPELinear.from_masked_linear(expansion.model.fc1, alpha, format=fmt)
            for fmt in ("masked", "grouped")}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid")
    parser.add_argument("--rounds", type=int, default=5, help="samples per format (median)")
    parser.add_argument("--sample-ms", type=float, default=2.0, help="length of one sample")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cpu = torch.device("cpu")
    clock_name, clock = pick_clock(cpu, "auto")
    grid = QUICK if args.quick else (DS, HS, ALPHAS, BATCHES)
    print(f"torch {torch.__version__}, 1 thread, {clock_name} clock; fwd+bwd, "
          "ratio = grouped / masked")
    print(f"{'d':>4} {'h':>4} {'alpha':>5} {'batch':>6} {'masked us':>10} {'grouped us':>10} "
          f"{'ratio':>6}  pick")
    cells = []
    for d, h, alpha, batch in itertools.product(*grid):
        if d // alpha < 1 or d * h * batch > MAX_WORK:
            continue
        layers = shared_layers(d, h, alpha)
        generator = torch_generator(batch, "grouped-vs-masked-inputs")
        x = torch.randn(batch, d, generator=generator)
        grad = torch.randn(batch, alpha * h, generator=generator)
        calls = {fmt: make_call(layer, "fwd+bwd", x, grad) for fmt, layer in layers.items()}
        samples = time_side_by_side(calls, cpu, args.rounds, args.sample_ms / 1000, clock)
        masked, grouped = (sorted(samples[f])[len(samples[f]) // 2] for f in ("masked", "grouped"))
        pick = select_format(True, cpu, d=d, h=h, alpha=alpha, batch=batch)
        cells.append((masked, grouped, pick))
        print(f"{d:4d} {h:4d} {alpha:5d} {batch:6d} {masked * 1e6:10.1f} {grouped * 1e6:10.1f} "
              f"{grouped / masked:6.2f}  {pick}", flush=True)

    def regret(policy) -> tuple[float, float]:
        """(geometric mean, worst) of the chosen format's time over the faster format's."""
        ratios = [(g if policy(p) == "grouped" else m) / min(m, g) for m, g, p in cells]
        return math.exp(sum(map(math.log, ratios)) / len(ratios)), max(ratios)

    print(f"\n{len(cells)} cells; time of the policy's pick / the faster format's:")
    for name, policy in (("always masked", lambda p: "masked"),
                         ("always grouped", lambda p: "grouped"),
                         ("select_format", lambda p: p)):
        mean, worst = regret(policy)
        print(f"  {name:15s} mean {mean:.3f}x  worst {worst:.2f}x")


if __name__ == "__main__":
    main()

"""How close does a sweep come to the machine's matmul peak? Useful FLOP/s against peak, one run.

Reads a results store and the sweep's wall time, counts the useful floating-point operations of
its training (2 x 3 multiply-adds per non-zero weight per row per step: the forward product and
the backward's two; masked zeros, evaluation and data building are not counted, so this is a
lower bound on work done), and measures in the same process the single-thread float32 matmul
peak (torch.mm, 1024 x 1024, best of several) and a memory-bound rate (a large tensor add), so
the ratio is measured side by side.

Run: python benchmarks/sweep_throughput.py STORE --wall SECONDS [--cores 2]
"""

import argparse

import polars as pl
import torch
from throughput import machine_limits  # beside this script

from satbench.store import read_results


def useful_flops(rows: pl.DataFrame) -> float:
    """2 * 3 * steps * rows per step * non-zero weights, summed over the stored runs."""
    own_steps = pl.when(pl.col("method").is_in(["fpe", "dense_reset", "dropconnect",
                                                "fpe_overlap"])) \
        .then(pl.col("expanded_steps")) \
        .otherwise(pl.col("warmup_steps") + pl.col("expanded_steps"))
    per_step = pl.when((pl.col("batch_size") == 0) | (pl.col("batch_size") >= pl.col("n_train"))) \
        .then(pl.col("n_train")).otherwise(pl.col("batch_size"))
    return float(rows.select((6.0 * own_steps * per_step * pl.col("nnz_weights")).sum()).item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--wall", type=float, required=True, help="the sweep's wall seconds")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    flops = useful_flops(read_results(args.store))
    torch.set_num_threads(1)
    peak, stream, _ = machine_limits()
    rate = flops / (args.wall * args.cores)
    print(f"useful training work: {flops / 1e9:.1f} GFLOP in {args.wall:.0f} s on {args.cores} "
          f"cores = {rate / 1e9:.2f} GFLOP/s per core")
    print(f"single-thread float32 matmul peak (1024^2 torch.mm): {peak / 1e9:.1f} GFLOP/s")
    print(f"single-thread memory bandwidth (torch.add, 64 MB each): {stream / 1e9:.1f} GB/s")
    print(f"useful rate / matmul peak: {rate / peak:.1%}")


if __name__ == "__main__":
    main()

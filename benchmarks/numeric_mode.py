"""What the portable numeric mode costs: presets swept in the portable and the native mode, side
by side in one run, and the ratio of their times.

Each sweep runs from scratch in its own process (`satbench sweep --preset P --no-report`, the
local executor on every core), with SATBENCH_NUMERIC_MODE set to the mode; the modes alternate
(portable, native, native, portable, ...) so that a drift in the machine's speed falls on both.
It prints, per preset, each mode's best wall time and total CPU time of the sweep's processes,
and the portable / native ratios, and checks that both modes trained the same runs.

Run: python benchmarks/numeric_mode.py [--presets quick,paper] [--repeats 1]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("portable", "native")
SATBENCH = [sys.executable, "-m", "satbench.cli"]


def sweep_seconds(preset: str, mode: str) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (this sweep's processes and their workers) and runs stored."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "results"
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([*SATBENCH, "sweep", "--preset", preset, "--out", str(out), "--no-report",
                        "--no-progress"], env={**os.environ, "SATBENCH_NUMERIC_MODE": mode},
                       check=True, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, len(list((out / "runs").glob("*.parquet")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="quick,paper")
    parser.add_argument("--repeats", type=int, default=1, help="sweeps per preset and mode")
    args = parser.parse_args()
    print(f"{'preset':8} {'mode':9} {'runs':>5} {'wall s':>8} {'cpu s':>8}")
    for preset in args.presets.split(","):
        best = {}
        for repeat in range(args.repeats):
            order = MODES if repeat % 2 == 0 else MODES[::-1]
            for mode in order:
                wall, cpu, runs = sweep_seconds(preset, mode)
                print(f"{preset:8} {mode:9} {runs:5d} {wall:8.1f} {cpu:8.1f}", flush=True)
                previous = best.get(mode, (float("inf"), float("inf"), runs))
                assert previous[2] == runs, "the modes must train the same runs"
                best[mode] = (min(previous[0], wall), min(previous[1], cpu), runs)
        (p_wall, p_cpu, _), (n_wall, n_cpu, _) = best["portable"], best["native"]
        print(f"{preset}: portable / native = {p_wall / n_wall:.2f}x wall, "
              f"{p_cpu / n_cpu:.2f}x CPU (best of {args.repeats})", flush=True)


if __name__ == "__main__":
    main()

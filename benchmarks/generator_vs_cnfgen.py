"""satbench's random k-CNF generator against CNFgen's, side by side in one run.

Both write the same kind of file: a uniformly random 3-CNF of n variables and m distinct clauses,
seeded, with no tautology and no repeated clause (CNFgen: `cnfgen randkcnf 3 n m`; satbench:
`satbench generate --vars n --clauses m`). Each command runs as its own process, alternately, a
few times; the script prints each one's best wall time and the ratio. CNFgen
(https://massimolauria.net/cnfgen) is run only when it is installed (`pip install cnfgen`); it is
never a dependency of satbench.

Run: python benchmarks/generator_vs_cnfgen.py [--vars 100000] [--clauses 426000] [--repeats 3]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def find_cnfgen() -> str | None:
    """cnfgen beside this Python (its environment's), else on PATH."""
    local = Path(sys.executable).with_name("cnfgen")
    return str(local) if local.exists() else shutil.which("cnfgen")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vars", type=int, default=100_000)
    parser.add_argument("--clauses", type=int, default=426_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    satbench = Path(sys.executable).with_name("satbench")
    cnfgen = find_cnfgen()
    with tempfile.TemporaryDirectory() as scratch:
        ours = [str(satbench), "generate", "--vars", str(args.vars), "--clauses",
                str(args.clauses), "--out", f"{scratch}/satbench.cnf"]
        theirs = [cnfgen, "-q", "-o", f"{scratch}/cnfgen.cnf", "randkcnf", "3", str(args.vars),
                  str(args.clauses)] if cnfgen else None
        print(f"random 3-CNF, {args.vars} variables, {args.clauses} clauses; best of "
              f"{args.repeats} runs each, alternating")
        if theirs is None:
            print(f"satbench generate: {min(wall(ours) for _ in range(args.repeats)):.2f} s")
            print("cnfgen: not installed (pip install cnfgen), no comparison")
            return
        times = [(wall(ours), wall(theirs)) for _ in range(args.repeats)]
        ours_seconds, theirs_seconds = (min(column) for column in zip(*times, strict=True))
        print(f"satbench generate: {ours_seconds:.2f} s")
        print(f"cnfgen randkcnf:   {theirs_seconds:.2f} s")
        print(f"satbench is {theirs_seconds / ours_seconds:.1f}x faster"
              if ours_seconds < theirs_seconds else
              f"satbench is {ours_seconds / theirs_seconds:.1f}x slower")

if __name__ == "__main__":
    main()

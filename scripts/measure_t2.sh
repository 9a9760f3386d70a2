#!/usr/bin/env bash
# Does a longer post-expansion phase let the random split recover? T1 = 1000 as by default, T2 = 3000
# instead of 1000 (the dense baseline trains the same 4000 steps). Compare with
# reports/output-scale (scale-copy: the default since 0.7). Writes the reference report reports/t2-3000 and its store.
# Run from the repository root.
set -euo pipefail
satbench sweep --neurons 4,8 --clauses 16,8 --split random,clause --seeds 5 --steps 1000,3000 \
  --arms dense,fpe,dense_reset --out reports/t2-3000/results --no-progress --report reports/t2-3000

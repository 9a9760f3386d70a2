#!/usr/bin/env bash
# Does a longer post-expansion phase let the random split recover? T1 = 1000 as by default, T2 = 3000
# instead of 1000 (the dense baseline trains the same 4000 steps). Compare with results/scale-divide.
set -euo pipefail
satbench sweep --neurons 4,8 --clauses 16,8 --split random,clause --seeds 5 --steps 1000,3000 \
  --arms dense,fpe,dense_reset --out results/t2-3000 --no-progress --no-report

#!/usr/bin/env bash
# FPE measurements behind issue #3's closing note and the output-scale default: the quick preset's
# cells (8x8 headline and three high-pressure cells), 5 seeds, all five arms, once with W2 copied to
# each child (the paper) and once divided by alpha. Writes the reference report reports/output-scale
# and its stores. Run from the repository root.
set -euo pipefail
for scale in copy divide; do
  satbench sweep --preset quick --seeds 5 --output-scale "$scale" \
    --arms dense,fpe,wide_dense,sparse_scratch,dense_reset \
    --out "reports/output-scale/results/scale-$scale" --no-progress --no-report
done
satbench report reports/output-scale/results/scale-copy reports/output-scale/results/scale-divide \
  --out reports/output-scale

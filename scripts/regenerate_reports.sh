#!/usr/bin/env bash
# Regenerate every committed reference report and its results store, from scratch, then the golden
# statistics file that tests/test_stats_golden.py checks against them. About 50 minutes on 2 CPU
# cores. Run from the root of a clean checkout (the rows record its commit), with satbench on PATH.
set -euo pipefail
rm -rf reports/quick reports/paper reports/output-scale reports/t2-3000  # stale figures too
satbench sweep --out reports/quick/results --report reports/quick --no-progress
satbench sweep --preset paper --out reports/paper/results --report reports/paper --no-progress
scripts/measure_output_scale.sh
scripts/measure_t2.sh
python scripts/capture_stats_golden.py reports/quick reports/paper reports/output-scale \
  reports/t2-3000
satbench verify reports/quick reports/paper reports/output-scale reports/t2-3000 --runs 1 \
  --no-progress

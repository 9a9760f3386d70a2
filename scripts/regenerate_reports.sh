#!/usr/bin/env bash
# Regenerate every committed reference report and its results store, from scratch, then the golden
# statistics file that tests/test_stats_golden.py checks against them. About 65 minutes on 2 CPU
# cores. Run from the root of a clean checkout (the rows record its commit), with satbench on PATH.
set -euo pipefail
rm -rf reports/quick reports/paper reports/tuned-shared reports/budget reports/timing \
  reports/output-scale reports/t2-3000 reports/methods  # stale figures too
satbench sweep --out reports/quick/results --report reports/quick --no-progress
# The paper's protocol on read-once formulas; its report sets it beside the tuned shared-support
# grid (the "Against the paper" table has a column for each).
satbench sweep --preset paper --out reports/paper/results --no-report --no-progress
satbench sweep --preset tuned-shared --out reports/tuned-shared/results \
  --report reports/tuned-shared --no-progress
satbench report reports/paper/results reports/tuned-shared/results --out reports/paper
satbench sweep --preset budget --out reports/budget/results --report reports/budget --no-progress
satbench sweep --preset timing --out reports/timing/results --report reports/timing --no-progress
satbench sweep --preset methods --out reports/methods/results --report reports/methods --no-progress
scripts/measure_output_scale.sh
scripts/measure_t2.sh
python scripts/capture_stats_golden.py reports/quick reports/paper reports/tuned-shared \
  reports/budget reports/timing reports/output-scale reports/t2-3000 reports/methods
satbench verify reports/quick reports/paper reports/tuned-shared reports/budget reports/timing \
  reports/output-scale reports/t2-3000 reports/methods --runs 1 --no-progress

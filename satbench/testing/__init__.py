"""Hypothesis strategies and invariant checkers, for testing satbench and your own splitters.

    from hypothesis import given, settings
    from satbench.models import expand
    from satbench.testing import check_fpe_invariants, fpe_cases

    @given(fpe_cases())
    @settings(max_examples=50, deadline=None)
    def test_my_splitter(case):
        expansion = expand(case.dense, case.alpha, MySplitter(), case.context, case.rng(),
                           case.output_scale)
        check_fpe_invariants(case.dense, expansion)
"""

from satbench.testing.invariants import check_fpe_invariants, check_split, check_splitter
from satbench.testing.strategies import (
    FpeCase,
    dense_mlps,
    formulas,
    fpe_cases,
    seeds,
    split_contexts,
    task_specs,
)

__all__ = [
    "FpeCase", "check_fpe_invariants", "check_split", "check_splitter", "dense_mlps",
    "formulas", "fpe_cases", "seeds", "split_contexts", "task_specs",
]

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

A clause-aware splitter should also pass check_clause_spread over clause_split_cases(): clauses
whole and spread over the children, not merely whole.
"""

from satbench.testing.invariants import check_fpe_invariants, check_split, check_splitter
from satbench.testing.spread import check_clause_spread, reachable_spread
from satbench.testing.strategies import (
    FpeCase,
    clause_split_cases,
    dense_mlps,
    formulas,
    fpe_cases,
    seeds,
    split_contexts,
    task_specs,
)

__all__ = [
    "FpeCase", "check_clause_spread", "check_fpe_invariants", "check_split", "check_splitter",
    "clause_split_cases", "dense_mlps", "formulas", "fpe_cases", "reachable_spread", "seeds",
    "split_contexts", "task_specs",
]

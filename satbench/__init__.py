"""satbench: a benchmark for superposition pressure on Boolean-formula evaluation."""

from satbench import numerics

# Before anything below loads torch or numpy: they read their CPU code paths once, when they load
# (satbench.numerics).
numerics.apply()

# The one source of the version: pyproject.toml reads it; CITATION.cff and CHANGELOG.md match it
# (tests/test_citation.py).
__version__ = "0.7.0"

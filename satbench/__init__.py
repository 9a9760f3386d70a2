"""satbench: a benchmark for superposition pressure on Boolean-formula evaluation."""

# The one source of the version: pyproject.toml reads it; CITATION.cff and CHANGELOG.md match it
# (tests/test_citation.py).
__version__ = "0.5.1"

"""satbench: a benchmark for superposition pressure on Boolean-formula evaluation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("satbench")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

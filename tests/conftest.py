# satbench first: importing it pins the CPU code paths of torch and numpy (satbench.numerics),
# which they read when they load; a test module that imported them first would be too late.
import satbench  # noqa: F401  isort: skip

from pathlib import Path

import pytest

# Shipped with the repository (tests/data/satlib/README.md gives their provenance), so a fresh
# clone passes its tests with nothing beside it.
SATLIB = Path(__file__).resolve().parent / "data" / "satlib"


@pytest.fixture
def satlib() -> Path:
    return SATLIB

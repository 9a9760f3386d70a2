from pathlib import Path

import pytest

# Shipped with the repository (tests/data/satlib/README.md gives their provenance), so a fresh
# clone passes its tests with nothing beside it.
SATLIB = Path(__file__).resolve().parent / "data" / "satlib"


@pytest.fixture
def satlib() -> Path:
    return SATLIB

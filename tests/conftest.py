from pathlib import Path

import pytest

SATLIB = Path(__file__).resolve().parents[2] / "shared" / "data" / "satlib"


@pytest.fixture
def satlib() -> Path:
    if not SATLIB.is_dir():
        pytest.fail(f"the shared SATLIB samples are missing: expected them at {SATLIB}")
    return SATLIB

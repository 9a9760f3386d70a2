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


# Two tiers. The fast one (the README's `pytest -q`) covers every module in minutes; the slow
# one (`pytest --slow`, which CI runs as well) adds what takes long: retraining the committed
# references, under emulated CPUs too, the Ray cluster, Ctrl-C timing, exhaustive checks.
def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="also run the slow tier (tests marked slow)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow tier: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

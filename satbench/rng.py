"""Seeded, isolated random streams. Nothing in satbench touches global random state.

Each consumer gets its own stream from (seed, stream name, cell), so adding a consumer never
shifts the numbers another one draws, and the same seed gives the same numbers in any process and
any order.

Cells (seeding scheme 2, `SEEDING`). A stream is seeded from the cell it belongs to as well as the
seed: a stable digest (`cell_words`) of the spec fields that define what it draws, so that at one
seed two cells of a sweep neither repeat nor nest each other's draws (under scheme 1, read-once
formulas of 4, 8 and 16 clauses were prefixes of one another, and every width h shared its
initial weights with the first rows of a wider one). Per stream:

- the formula (its clauses and its planted assignment): the formula cell,
  `satbench.specs.formula_cell` (n_vars, n_clauses, width, form, planted, support) and nothing
  else. Tasks that differ only in how their data is drawn or presented (n_train, encoding,
  target, ...) share their formula: they are the same problem;
- the dataset: `TaskSpec.data_cell`, the fields that decide which rows are drawn (every task
  field but the seed, the encoding and the target: those two present the same rows differently);
- everything a run draws (initialisation, data order, FPE's split, DropConnect's masks, the fixed
  classifier's projection, tree_cc's gates, BIMT's wide init): the context cell,
  `TrainingContext.cell` (`TaskSpec.cell`, every task field but the seed, and the dense width h:
  the encoding and the target shape the network too; use `run_numpy_rng` and
  `run_torch_generator`, or a method's `Setup.rng` and `Setup.generator`).

Common random numbers are kept where a comparison is paired: every method of one context, with
any params, draws from the same context cell, so at one seed all methods train on the same
formula and dataset in the same data order, every method that starts from scratch draws the
same numbers from the stream it names (dense's "init", the wide methods' "init-wide"), and the
methods that start from dense (fpe, dense_reset) branch off that same dense model at T1. The
schedule and the optimizer (T1, T2, learning rate, batch size, weight decay) are treatments of
one network on one dataset, not cells: the `budget` and `timing` presets compare them on the same
formula, data and initialisation. Different seeds are independent replicates.
"""

import hashlib

import numpy as np

from satbench.errors import SatbenchError
from satbench.specs import SEEDING, check_at_most

__all__ = ["SEEDING", "cell_words", "numpy_rng", "run_numpy_rng", "run_torch_generator",
           "seed_sequence", "torch_generator"]


def _stream_words(name: str) -> list[int]:
    # A stable integer per stream name (not hash(), which is salted per process).
    return list(np.frombuffer(hashlib.sha256(name.encode()).digest()[:8], dtype="<u4"))


def cell_words(cell: str) -> list[int]:
    """Four 32-bit words of a cell's digest (a hex SHA-256, as satbench.specs makes them)."""
    try:
        raw = bytes.fromhex(cell)
    except (TypeError, ValueError):
        raise SatbenchError(f"cell: expected a hex digest, got {cell!r}") from None
    if len(raw) < 16:
        raise SatbenchError(f"cell: expected a digest of at least 16 bytes, got {cell!r}")
    return list(map(int, np.frombuffer(raw[:16], dtype="<u4")))


def seed_sequence(seed: int, stream: str, *extra: int, cell: str | None = None
                  ) -> np.random.SeedSequence:
    """The SeedSequence of (seed, stream, cell, extra words). cell None: a stream of no cell
    (tests, benchmarks); every stream a run or a task draws from names its cell."""
    # numpy rejects negative entropy with a traceback; every stream passes here, so check once.
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SatbenchError(f"seed: expected a non-negative integer, got {seed!r}")
    check_at_most("seed", seed)
    cell_part = [] if cell is None else cell_words(cell)
    return np.random.SeedSequence([int(seed), *_stream_words(stream), *cell_part,
                                   *map(int, extra)])


def numpy_rng(seed: int, stream: str, *extra: int, cell: str | None = None
              ) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, stream, *extra, cell=cell)))


def torch_generator(seed: int, stream: str, *extra: int, cell: str | None = None):
    """A seeded torch.Generator (torch is imported here so formula-only commands start fast)."""
    import torch

    state = seed_sequence(seed, stream, *extra, cell=cell).generate_state(2, dtype=np.uint32)
    generator = torch.Generator()
    generator.manual_seed(((int(state[1]) << 32) | int(state[0])) & (2**63 - 1))
    return generator


def run_numpy_rng(context, stream: str, *extra: int) -> np.random.Generator:
    """A run's numpy stream: the context's seed and cell (satbench.specs.TrainingContext)."""
    return numpy_rng(context.seed, stream, *extra, cell=context.cell)


def run_torch_generator(context, stream: str, *extra: int):
    """A run's torch stream: the context's seed and cell (satbench.specs.TrainingContext)."""
    return torch_generator(context.seed, stream, *extra, cell=context.cell)

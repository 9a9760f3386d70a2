"""Seeded, isolated random streams. Nothing in satbench touches global random state.

Each consumer gets its own stream from (seed, stream name), so adding a consumer never shifts the
numbers another one draws.
"""

import hashlib

import numpy as np

from satbench.errors import SatbenchError
from satbench.specs import check_at_most


def _stream_words(name: str) -> list[int]:
    # A stable integer per stream name (not hash(), which is salted per process).
    return list(np.frombuffer(hashlib.sha256(name.encode()).digest()[:8], dtype="<u4"))


def seed_sequence(seed: int, stream: str, *extra: int) -> np.random.SeedSequence:
    # numpy rejects negative entropy with a traceback; every stream passes here, so check once.
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise SatbenchError(f"seed: expected a non-negative integer, got {seed!r}")
    check_at_most("seed", seed)
    return np.random.SeedSequence([int(seed), *_stream_words(stream), *map(int, extra)])


def numpy_rng(seed: int, stream: str, *extra: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, stream, *extra)))


def torch_generator(seed: int, stream: str, *extra: int):
    """A seeded torch.Generator (torch is imported here so formula-only commands start fast)."""
    import torch

    state = seed_sequence(seed, stream, *extra).generate_state(2, dtype=np.uint32)
    generator = torch.Generator()
    generator.manual_seed(((int(state[1]) << 32) | int(state[0])) & (2**63 - 1))
    return generator

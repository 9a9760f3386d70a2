"""Executors run a sweep's jobs. A registry, so a distributed engine (Ray) can slot in later.

An executor maps a picklable function over jobs and yields each result as soon as it is done, in
any order; the engine stores results as they arrive, so an interrupted sweep keeps them.
"""

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Protocol

from satbench.errors import SatbenchError


class Executor(Protocol):
    name: str

    def map_unordered(self, function: Callable, jobs: Iterable) -> Iterator: ...


class SerialExecutor:
    """Runs jobs one after another in this process (debugging, and tests)."""

    name = "serial"

    def map_unordered(self, function, jobs):
        for job in jobs:
            yield function(job)


def _single_threaded_worker() -> None:
    # Each worker process runs small models: one torch thread per process, one process per core,
    # beats several processes fighting over every core's threads.
    import torch

    torch.set_num_threads(1)


class LocalExecutor:
    """A process pool over this machine's cores."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1

    def map_unordered(self, function, jobs):
        jobs = list(jobs)
        with ProcessPoolExecutor(self.workers, initializer=_single_threaded_worker) as pool:
            pending = {pool.submit(function, job) for job in jobs}
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield future.result()
            finally:
                for future in pending:
                    future.cancel()


EXECUTORS: dict[str, Callable[[], Executor]] = {}


def register_executor(name: str, factory: Callable[[], Executor]) -> None:
    EXECUTORS[name] = factory


def get_executor(name: str) -> Executor:
    if name not in EXECUTORS:
        raise SatbenchError(f"executor: unknown executor {name!r}; known executors: "
                            f"{', '.join(sorted(EXECUTORS))}")
    return EXECUTORS[name]()


register_executor("local", LocalExecutor)
register_executor("serial", SerialExecutor)

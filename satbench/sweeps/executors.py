"""Executors run a sweep's jobs: `local` (a process pool), `serial` (in this process) and `ray`
(a Ray cluster: satbench.sweeps.ray_executor). A registry, so another engine can slot in.

An executor maps a picklable function over jobs and yields each result as soon as it is done, in
any order; the engine stores results as they arrive, so an interrupted sweep keeps them. It should
take jobs from their iterator only as it has room for them: the engine claims a job's runs when
the job is taken, so that sweeps sharing a store split the work (one that takes every job at once
still trains each run once, and just leaves less to the others). Closing the iterator early
(Ctrl-C, an error in the caller) must stop the work in flight within seconds. An executor whose
jobs run on other machines says so with `remote = True`: this machine's memory then bounds
nothing (satbench.memory).
"""

import itertools
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import nullcontext
from typing import Protocol

from satbench.errors import SatbenchError

SIGNAL_CHECK_SECONDS = 0.2


class Executor(Protocol):
    name: str

    def map_unordered(self, function: Callable, jobs: Iterable) -> Iterator: ...


def executor_session(executor: Executor):
    """A context manager for the maps of one sweep: the executor's own `session()` when it has
    one (Ray: one cluster connection, so workers and their dataset caches outlive each map),
    else nothing to set up."""
    session = getattr(executor, "session", None)
    return session() if session is not None else nullcontext(executor)


class SerialExecutor:
    """Runs jobs one after another in this process (debugging, and tests)."""

    name = "serial"

    def map_unordered(self, function, jobs):
        for job in jobs:
            yield function(job)


def _start_worker() -> None:
    # Ctrl-C reaches the whole process group. The main process decides what an interrupt means
    # (keep finished runs, stop the workers); a worker must not print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Training pins its own thread count (satbench.threads); one thread for everything else in
    # a worker too, since the pool already runs one worker per core.
    import torch

    torch.set_num_threads(1)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued jobs and kill the running ones: their results would be thrown away."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((pool._processes or {}).values())  # no public handle before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()


class LocalExecutor:
    """A process pool over this machine's cores."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = workers or os.cpu_count() or 1

    def map_unordered(self, function, jobs):
        # Jobs are taken as workers free up (two per worker queued), not all at once: the sweep
        # engine claims a job's runs when it is taken, so that sweeps sharing a store split them.
        jobs = iter(jobs)
        first = list(itertools.islice(jobs, 2 * self.workers))
        if not first:
            return
        pool = ProcessPoolExecutor(min(self.workers, len(first)), initializer=_start_worker)
        finished = False
        try:
            pending = {pool.submit(function, job) for job in first}
            while pending:
                # A timeout, so the main thread wakes to run Python's signal handlers: Ctrl-C is
                # often delivered to one of the pool's threads, which cannot raise it.
                done, pending = wait(pending, timeout=SIGNAL_CHECK_SECONDS,
                                     return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
                    pending.update(pool.submit(function, job)
                                   for job in itertools.islice(jobs, 1))
            finished = True
        finally:
            if not finished:
                _stop_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)


EXECUTORS: dict[str, Callable[[], Executor]] = {}


def register_executor(name: str, factory: Callable[[], Executor]) -> None:
    EXECUTORS[name] = factory


def get_executor(name: str, address: str | None = None) -> Executor:
    """The executor `name`; `address` (HOST:PORT of a cluster) is for the ray executor only."""
    if name not in EXECUTORS:
        raise SatbenchError(f"executor: unknown executor {name!r}; known executors: "
                            f"{', '.join(sorted(EXECUTORS))}")
    if address is None:
        return EXECUTORS[name]()
    if name != "ray":
        raise SatbenchError(f"--address: only the ray executor connects to a cluster, not "
                            f"{name!r}")
    return EXECUTORS[name](address)


def _ray_executor(address: str | None = None) -> Executor:
    from satbench.sweeps.ray_executor import RayExecutor

    return RayExecutor(address)


register_executor("local", LocalExecutor)
register_executor("serial", SerialExecutor)
register_executor("ray", _ray_executor)

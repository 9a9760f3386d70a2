"""The Ray executor: a sweep's jobs as Ray tasks, on an existing cluster or a local Ray.

Ray (https://docs.ray.io) is an optional extra, `pip install "satbench[ray]"`. The jobs are the
local executor's, at the same grain (a task's batched runs, or one training context), and go to
the cluster as tasks of one CPU each. Datasets are not shipped: a job carries its TaskSpec and the
worker builds the dataset from it (deterministic, the same bytes in any process; cached per worker
process, satbench.sweeps.engine). Results come back to the driver, which alone writes the store,
atomically, as with the local executor.

Faults: a task whose worker process or node dies is retried by Ray (MAX_RETRIES times), so a dead
node loses only the runs it had in flight, and they train again elsewhere. A driver killed
mid-sweep loses only the runs in flight; the same command trains what is missing. Closing the
iterator early (Ctrl-C) cancels every task not yet returned.

The cluster: `address` (HOST:PORT of a running head node), else the RAY_ADDRESS environment
variable, else a local Ray started for this sweep and stopped after it. The engine holds one
connection for the whole sweep (`session`), so each worker builds a task's dataset at most once.
"""

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from satbench import numerics
from satbench.errors import SatbenchError

MAX_RETRIES = 3  # per task, on a worker or node failure
WAIT_SECONDS = 0.2  # how long the driver blocks between checks, so Ctrl-C stays responsive


def import_ray():
    try:
        import ray
    except ImportError:
        raise SatbenchError('executor ray: Ray is not installed; install it with pip install '
                            '"satbench[ray]" (or pip install ray)') from None
    return ray


def _run(function: Callable, job):
    return function(job)


class RayExecutor:
    name = "ray"
    ships_datasets = False  # workers build datasets from their specs
    remote = True  # runs train on the cluster's nodes, not in this machine's memory

    def __init__(self, address: str | None = None):
        self.ray = import_ray()
        self.address = address or os.environ.get("RAY_ADDRESS") or None

    def _connect(self) -> bool:
        """Connect to the cluster (or start a local Ray); True when this call started it."""
        if self.ray.is_initialized():
            return False
        try:
            self.ray.init(address=self.address, include_dashboard=False,
                          log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError) as error:
            where = self.address or "a local Ray"
            raise SatbenchError(f"executor ray: cannot connect to {where}: "
                                f"{str(error).splitlines()[0]}") from None
        return True

    @contextmanager
    def session(self):
        """One connection for every map inside (a sweep's dataset checks and its training), so
        that the workers, and the datasets they cached, outlive each map; shut down after it
        when this call started it. Outside a session each map connects on its own."""
        started = self._connect()
        try:
            yield self
        finally:
            if started:
                self.ray.shutdown()

    def map_unordered(self, function, jobs: Iterable) -> Iterator:
        jobs = list(jobs)
        if not jobs:
            return
        started = self._connect()
        # A cluster's workers do not inherit this process's environment: they get the numeric
        # mode's variables before they load torch (satbench.numerics).
        remote = self.ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False,
                                 runtime_env={"env_vars": numerics.environment()})(_run)
        pending = [remote.remote(function, job) for job in jobs]
        try:
            while pending:
                done, pending = self.ray.wait(pending, num_returns=1, timeout=WAIT_SECONDS)
                for ref in done:
                    yield self.ray.get(ref)
        finally:
            for ref in pending:  # closed early: nobody will read these results
                self.ray.cancel(ref, force=True)
            if started:
                self.ray.shutdown()

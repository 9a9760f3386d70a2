"""Run a sweep into a results store.

In order: find the runs already stored (a damaged run file is moved to quarantine/ and its run
trained again); build the dataset of every task still to train, so that a cell that cannot run
(an UNSAT CNF, a class smaller than asked for) is named before any training starts; then train,
storing each run as it arrives. A run that fails is named and the others go on; Ctrl-C stops the
workers and keeps every stored run. Each run is claimed before it is trained, so that sweeps
writing to one store at once train each run once between them (satbench.claims).
"""

import contextlib
import json
import logging
import sys
import traceback
from contextlib import closing
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from tqdm import tqdm

from satbench.atomic import atomic_path
from satbench.claims import claims_at_once, remove_claims_dir, try_claim, wait_for_claim
from satbench.errors import SatbenchError
from satbench.generators.dataset import Dataset, build_dataset
from satbench.memory import check_training_memory
from satbench.runs import RunSpec
from satbench.specs import TaskSpec
from satbench.store import find_runs, write_run
from satbench.sweeps.executors import Executor, executor_session
from satbench.sweeps.spec import SweepSpec
from satbench.training.formats import check_layer_format, planned_format
from satbench.training.rows import evaluate
from satbench.training.single import train_runs

log = logging.getLogger("satbench.sweeps")

TRAINERS = ("single", "batched")
DATASETS_PER_WORKER = 8  # a worker keeps the datasets of its last few tasks


@dataclass
class SweepCounts:
    runs: int
    found: int  # stored before the sweep began
    trained: int
    failed: list[str] = field(default_factory=list)  # one line per run that failed
    elsewhere: int = 0  # stored meanwhile by another sweep into the same directory

    @property
    def stored(self) -> int:
        return self.found + self.trained + self.elsewhere


class SweepInterrupted(Exception):
    """Ctrl-C during a sweep; `stored` runs of `total` are in the store."""

    def __init__(self, stored: int, total: int):
        super().__init__(f"{stored} of {total} runs stored")
        self.stored, self.total = stored, total


def describe_task(task: TaskSpec) -> str:
    return f"task m={task.n_clauses} seed={task.seed} ({task.form}, n={task.n_vars})"


def describe_run(run: RunSpec) -> str:
    context = run.context
    return (f"run {run.key[:12]} ({run.describe()}; h={context.neurons}, "
            f"m={context.task.n_clauses}, seed={context.seed})")


def _error_text(error: Exception) -> str:
    """One line: a user error's own message, or an unexpected error's type, text and place."""
    if isinstance(error, SatbenchError):
        return str(error)
    where = traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__}: {error} ({Path(where.filename).name}:{where.lineno})"


def build_task(task: TaskSpec, build=build_dataset) -> tuple[TaskSpec, Dataset | None, str | None]:
    """(task, dataset, None), or (task, None, why it cannot be built). Runs in a worker."""
    try:
        return task, build(task), None
    except Exception as error:  # reported per task by the caller, never raised across workers
        return task, None, _error_text(error)


def by_context(runs: list[RunSpec]) -> list[list[RunSpec]]:
    groups = {}
    for run in runs:
        groups.setdefault(run.context, []).append(run)
    return list(groups.values())


def check_task(task: TaskSpec) -> tuple[TaskSpec, None, str | None]:
    """build_task without shipping the dataset back, for executors whose workers build datasets
    themselves (Ray); it warms that worker's dataset cache."""
    return task, None, build_task(task, cached_dataset)[2]


@lru_cache(maxsize=DATASETS_PER_WORKER)
def cached_dataset(task: TaskSpec) -> Dataset:
    """A worker's dataset for `task`: built from its spec (the same bytes in any process)."""
    return build_dataset(task)


def train_job(job: tuple[str, list[RunSpec], str, Dataset | TaskSpec]):
    """Train runs that share a task, a context at a time or as one batched tensor program.

    The job carries the task's dataset, or its TaskSpec when the executor's workers build
    datasets themselves (Ray: none are shipped). Returns (runs, a row per run, None), or (runs,
    None, why they failed). Both trainers give the same weights (the batched one is tested
    bitwise against train_runs).
    """
    trainer, runs, layer_format, dataset = job
    try:
        if isinstance(dataset, TaskSpec):
            dataset = cached_dataset(dataset)
        if trainer == "batched":
            from satbench.training.batched import train_runs_batched

            trained = train_runs_batched(runs, {dataset.spec.fingerprint: dataset})
        else:
            trained = [t for group in by_context(runs)
                       for t in train_runs(group, dataset, layer_format)]
        return [t.run for t in trained], [evaluate(t, dataset) for t in trained], None
    except Exception as error:  # named by the caller; the sweep's other runs go on
        return runs, None, _error_text(error)


def make_jobs(runs: list[RunSpec], trainer: str,
              layer_format: str = "auto") -> list[tuple[str, list[RunSpec], str]]:
    """single: one job per training context (its methods share the dense warm-up), so an
    interrupt loses little; batched: one job per task.

    The batched trainer replays the standard training loop in the masked format, so a run whose
    method trains its own way, or whose structured layer is planned in another format
    (planned_format: forced, or faster for its sizes), goes to the single-model trainer.
    """
    single, batched = [], {}
    for run in runs:
        if (trainer == "single" or not run.trainer.batchable
                or planned_format(run, layer_format) != "masked"):
            single.append(run)
        else:
            batched.setdefault(run.context.task.fingerprint, []).append(run)
    return ([("single", group, layer_format) for group in by_context(single)]
            + [(trainer, group, layer_format) for group in batched.values()])


def jobs_with_datasets(runs: list[RunSpec], trainer: str, layer_format: str,
                       datasets: dict[str, Dataset | TaskSpec]) -> list[tuple]:
    """make_jobs' jobs, each with the dataset its runs share (or its TaskSpec, for workers that
    build it): what train_job takes."""
    return [(*job, datasets[job[1][0].context.task.fingerprint])
            for job in make_jobs(runs, trainer, layer_format)]


def manifest_path(spec: SweepSpec, out) -> Path:
    return Path(out) / "sweeps" / f"{spec.name}-{spec.fingerprint[:12]}.json"


def write_manifest(spec: SweepSpec, out) -> Path:
    """Record the sweep's spec and the keys of its runs beside its results, so reports can say
    how many of the runs asked for are stored."""
    path = manifest_path(spec, out)
    document = {"spec": spec.to_dict(), "run_keys": sorted(run.key for run in spec.runs())}
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(document, indent=2, sort_keys=True))
    return path


def build_datasets(tasks: list[TaskSpec], executor: Executor,
                   progress: bool) -> dict[str, Dataset | TaskSpec]:
    """Every task's dataset, keyed by task fingerprint; one error naming every task that fails.
    An executor that does not ship datasets (`ships_datasets = False`) has its workers check
    that each task builds, and gets the TaskSpecs back in place of the datasets."""
    datasets, problems = {}, []
    ships = getattr(executor, "ships_datasets", True)
    bar = tqdm(total=len(tasks), unit="task", desc="datasets", disable=not progress,
               file=sys.stderr, leave=False)
    with bar, closing(executor.map_unordered(build_task if ships else check_task,
                                             tasks)) as results:
        for task, dataset, problem in results:
            if problem is not None:
                problems.append(f"{describe_task(task)}: {problem}")
            else:
                datasets[task.fingerprint] = dataset if ships else task
            bar.update(1)
    if problems:
        raise SatbenchError(f"{len(problems)} of {len(tasks)} tasks cannot run, so nothing was "
                            f"trained: {'; '.join(sorted(problems))}")
    return datasets


class _Outcomes:
    """Where a sweep's outcomes go: the store, the counts and the progress bar. The manifest is
    written with the sweep's first stored run, not before: a sweep that stores nothing leaves no
    manifest of a store that does not exist."""

    def __init__(self, spec: SweepSpec, out, counts: SweepCounts, bar):
        self.spec, self.out, self.counts, self.bar = spec, out, counts, bar
        if counts.found:
            write_manifest(spec, out)

    def _stored(self) -> None:
        if self.counts.stored == 1:
            write_manifest(self.spec, self.out)
        self.bar.update(1)

    def trained(self, run: RunSpec, row: dict) -> None:
        write_run(self.out, run.key, [row], run.to_dict())
        self.counts.trained += 1
        self._stored()

    def stored_elsewhere(self) -> None:
        self.counts.elsewhere += 1
        self._stored()

    def failed(self, run: RunSpec, problem: str) -> None:
        self.counts.failed.append(f"{describe_run(run)}: {problem}")
        log.warning(f"{describe_run(run)} failed: {problem}")
        self.bar.update(1)


class _Claims:
    """The claims this process holds on the runs it trains (satbench.claims)."""

    def __init__(self, outcomes: _Outcomes):
        self.outcomes, self.held, self.later = outcomes, {}, []
        self.limit = claims_at_once()

    def take(self, runs: list[RunSpec]) -> list[RunSpec]:
        """Those of `runs` this process now trains. The others wait for a later round: claimed
        by another live sweep, or beyond the claims one process holds at a time. A claimed run
        that its previous holder stored meanwhile counts as stored elsewhere."""
        mine = []
        for run in runs:
            claim = try_claim(self.outcomes.out, run.key) if len(self.held) < self.limit else None
            if claim is None:
                self.later.append(run)
            else:
                self.held[run.key] = claim
                mine.append(run)
        stored, moved = find_runs(self.outcomes.out, [run.key for run in mine])
        for message in moved:
            log.warning(message)
        for key in stored:
            self.release(key)
            self.outcomes.stored_elsewhere()
        return [run for run in mine if run.key not in stored]

    def jobs(self, jobs):
        """`jobs` with only the runs this process claims, each job's taken as the executor asks
        for it (the local and serial executors ask as workers free up)."""
        for trainer, job_runs, *rest in jobs:
            mine = self.take(job_runs)
            if mine:
                yield (trainer, mine, *rest)

    def release(self, key: str) -> None:
        self.held.pop(key).release()

    def release_all(self) -> None:
        for key in list(self.held):
            self.release(key)


def train_claimed(runs: list[RunSpec], outcomes: _Outcomes, executor: Executor,
                  jobs_for) -> None:
    """Train `runs`, each once among the sweeps writing to the store. A job's runs are claimed
    as the executor takes it, so sweeps started together take jobs in turn; a round ends when
    the executor has run every job it took, and the next round takes the runs left: once no run
    could be taken, it waits until another sweep's claim ends, then takes over any run that
    sweep left unstored (it failed, or died)."""
    waiting = runs
    while waiting:
        claims, before = _Claims(outcomes), outcomes.counts.stored + len(outcomes.counts.failed)
        try:
            jobs = claims.jobs(jobs_for(waiting))
            with closing(executor.map_unordered(train_job, jobs)) as results:
                for job_runs, rows, problem in results:
                    for index, run in enumerate(job_runs):
                        if problem is None:
                            outcomes.trained(run, rows[index])
                        else:
                            outcomes.failed(run, problem)
                        claims.release(run.key)
        finally:  # Ctrl-C or an error: the claims not yet released
            claims.release_all()
        waiting = claims.later
        if waiting and outcomes.counts.stored + len(outcomes.counts.failed) == before:
            wait_for_claim(outcomes.out, waiting[0].key)  # every run left is another sweep's


def run_sweep(spec: SweepSpec, out, executor: Executor, progress: bool = True,
              trainer: str = "single", layer_format: str = "auto") -> SweepCounts:
    """Train every run of `spec` that `out` does not hold yet.

    Sweeps writing to one store share the work: each run is claimed before it is trained
    (satbench.claims), and a run another sweep has claimed is left to it and counted as stored
    elsewhere once it is stored. layer_format: the FPELinear format of structured first layers
    (fpe, sparse_scratch; 'auto': the fastest for each run's split and sizes; see
    satbench.training.formats). Raises SatbenchError before any work if a task cannot run,
    SweepInterrupted on Ctrl-C.
    """
    if trainer not in TRAINERS:  # before anything is written
        raise SatbenchError(f"trainer: expected one of {', '.join(TRAINERS)}, got {trainer!r}")
    runs = spec.runs()
    check_layer_format(runs, layer_format)  # before anything is written
    if not getattr(executor, "remote", False):  # a cluster's nodes may have more memory
        check_training_memory(runs)
    stored, moved = find_runs(out, [run.key for run in runs])
    for message in moved:
        log.warning(message)
    pending = [run for run in runs if run.key not in stored]
    tasks = list({run.context.task.fingerprint: run.context.task for run in pending}.values())
    new_directory = not Path(out).exists()
    with executor_session(executor):  # Ray: one connection, workers keep their datasets
        datasets = build_datasets(tasks, executor, progress)
        counts = SweepCounts(runs=len(runs), found=len(stored), trained=0)
        bar = tqdm(total=len(runs), initial=len(stored), unit="run", desc=spec.name,
                   disable=not progress, file=sys.stderr, smoothing=0.05)
        try:
            with bar:
                train_claimed(pending, _Outcomes(spec, out, counts, bar), executor,
                              lambda some: jobs_with_datasets(some, trainer, layer_format,
                                                              datasets))
        except KeyboardInterrupt:
            raise SweepInterrupted(counts.stored, counts.runs) from None
        finally:
            remove_claims_dir(out)
            if new_directory:  # made only for claims, and nothing was stored: nothing new
                with contextlib.suppress(OSError):
                    Path(out).rmdir()
    return counts

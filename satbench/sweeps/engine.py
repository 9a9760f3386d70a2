"""Run a sweep into a results store.

In order: find the runs already stored (a damaged run file is moved to quarantine/ and its run
trained again); build the dataset of every task still to train, so that a cell that cannot run
(an UNSAT CNF, a class smaller than asked for) is named before any training starts; then train,
storing each run as it arrives. A run that fails is named and the others go on; Ctrl-C stops the
workers and keeps every stored run.
"""

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
    found: int
    trained: int
    failed: list[str] = field(default_factory=list)  # one line per run that failed


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


def run_sweep(spec: SweepSpec, out, executor: Executor, progress: bool = True,
              trainer: str = "single", layer_format: str = "auto") -> SweepCounts:
    """Train every run of `spec` that `out` does not hold yet.

    layer_format: the FPELinear format of structured first layers (fpe, sparse_scratch; 'auto':
    the fastest for each run's split and sizes; see satbench.training.formats). Raises
    SatbenchError before any work if a task cannot run, SweepInterrupted on Ctrl-C.
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
    with executor_session(executor):  # Ray: one connection, workers keep their datasets
        datasets = build_datasets(tasks, executor, progress)
        if stored:
            write_manifest(spec, out)
        counts = SweepCounts(runs=len(runs), found=len(stored), trained=0)
        bar = tqdm(total=len(runs), initial=len(stored), unit="run", desc=spec.name,
                   disable=not progress, file=sys.stderr, smoothing=0.05)
        jobs = jobs_with_datasets(pending, trainer, layer_format, datasets)
        try:
            with bar, closing(executor.map_unordered(train_job, jobs)) as results:
                for job_runs, rows, problem in results:
                    for index, run in enumerate(job_runs):
                        if problem is None:
                            write_run(out, run.key, [rows[index]], run.to_dict())
                            if not stored and not counts.trained:
                                # With the first run stored, not before: a sweep that stores
                                # nothing leaves no manifest of a store that does not exist.
                                write_manifest(spec, out)
                            counts.trained += 1
                        else:
                            counts.failed.append(f"{describe_run(run)}: {problem}")
                            log.warning(f"{describe_run(run)} failed: {problem}")
                        bar.update(1)
        except KeyboardInterrupt:
            raise SweepInterrupted(counts.found + counts.trained, counts.runs) from None
    return counts

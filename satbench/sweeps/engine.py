"""Run a sweep into a results store: skip finished runs, store each result as it arrives."""

import functools
import json
import sys
from pathlib import Path

from tqdm import tqdm

from satbench.atomic import atomic_path
from satbench.errors import SatbenchError
from satbench.experiment import evaluate_arm, train_arms
from satbench.generators.dataset import build_dataset
from satbench.kernels.layer_format import check_layer_format, planned_format
from satbench.specs import RunSpec
from satbench.store import has_run, write_run
from satbench.sweeps.executors import Executor
from satbench.sweeps.spec import SweepSpec

# Worker processes keep recent datasets: the runs of one task (every width, alpha and split at one
# clause count and seed) share it, and building it costs more than a short training run.
cached_dataset = functools.lru_cache(maxsize=16)(build_dataset)


TRAINERS = ("single", "batched")


def train_job(job: tuple[str, list[RunSpec], str]) -> list[tuple[RunSpec, list[dict]]]:
    """Train one job: runs that share a task, one at a time or as one batched tensor program.

    Both trainers give the same weights (the batched one is tested bitwise against train_arms).
    """
    trainer, runs, layer_format = job
    dataset = cached_dataset(runs[0].task)
    if trainer == "batched":
        from satbench.sweeps.batched import train_runs_batched

        trained = train_runs_batched(runs, {runs[0].task.fingerprint: dataset})
    else:
        trained = [train_arms(run, dataset, layer_format) for run in runs]
    return [(run, [evaluate_arm(arm, run, dataset) for arm in arms])
            for run, arms in zip(runs, trained, strict=True)]


def make_jobs(runs: list[RunSpec], trainer: str,
              layer_format: str = "auto") -> list[tuple[str, list[RunSpec], str]]:
    """single: one run per job, so an interrupt loses little; batched: one job per task.

    The batched trainer holds every layer in the masked format, so a run whose FPE-structured
    layers are planned in another format (planned_format: forced, or faster for its sizes) trains
    on its own with train_arms instead.
    """
    jobs, groups = [], {}
    for run in runs:
        if trainer == "single" or planned_format(run, layer_format) != "masked":
            jobs.append(("single", [run], layer_format))
        else:
            groups.setdefault(run.task.fingerprint, []).append(run)
    return jobs + [(trainer, group, layer_format) for group in groups.values()]


def write_manifest(spec: SweepSpec, out) -> Path:
    """Record the sweep's grid beside its results, so reports know what was asked for."""
    path = Path(out) / "sweeps" / f"{spec.name}-{spec.fingerprint[:12]}.json"
    with atomic_path(path) as temp:
        temp.write_text(json.dumps(spec.to_dict(), indent=2, sort_keys=True))
    return path


def run_sweep(spec: SweepSpec, out, executor: Executor, progress: bool = True,
              trainer: str = "single", layer_format: str = "auto") -> dict:
    """Train every run of `spec` that `out` does not hold yet. Returns counts for the caller.

    layer_format: the FPELinear format of the fpe and sparse_scratch first layers ('auto': the
    fastest for each run's split and sizes; see satbench.kernels.layer_format).
    """
    if trainer not in TRAINERS:  # before anything is written
        raise SatbenchError(f"trainer: expected one of {', '.join(TRAINERS)}, got {trainer!r}")
    runs = spec.runs()
    check_layer_format(runs, layer_format)  # before anything is written
    write_manifest(spec, out)
    # Order by task so a worker's dataset cache sees the runs of one task close together.
    pending = sorted((r for r in runs if not has_run(out, r.key)),
                     key=lambda r: (r.task.n_clauses, r.task.seed, r.neurons, r.alpha, r.split))
    done_before = len(runs) - len(pending)
    bar = tqdm(total=len(runs), initial=done_before, unit="run", desc=spec.name,
               disable=not progress, file=sys.stderr, smoothing=0.05)
    stored = 0
    try:
        jobs = make_jobs(pending, trainer, layer_format)
        for results in executor.map_unordered(train_job, jobs):
            for run, rows in results:
                write_run(out, run.key, rows, run.to_dict())
                stored += 1
                bar.update(1)
    finally:
        bar.close()
    return {"runs": len(runs), "found": done_before, "trained": stored}

"""The example plugin (examples/satbench-example-plugin), installed as a real package.

The package is built and installed with pip into a folder of its own (`--target`), never into the
venv, and the CLI runs in subprocesses with that folder on PYTHONPATH, so importlib.metadata finds
its dist-info and satbench discovers its `satbench.plugins` entry point as it would for a user.
"""

import importlib
import importlib.util
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from satbench.store import read_results

PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "satbench-example-plugin"
SATBENCH = [sys.executable, "-m", "satbench.cli"]
RUN = ["run", "--split", "strided", "--methods", "dense,fpe,random_sparse", "--vars", "8",
       "--clauses", "4", "--train", "64", "--test", "32", "--steps", "5,5", "--neurons", "2",
       "--no-progress"]
# Bitwise agreement of the batched and single trainers was measured on this platform (see
# tests/test_batched.py); elsewhere the weights agree to round-off.
EXACT = (torch.__version__.startswith("2.13") and torch.backends.mkl.is_available()
         and torch.backends.cpu.get_cpu_capability() == "AVX512")


def _pip_can_build() -> str | None:
    """Why pip cannot build the plugin offline with the venv's setuptools, or None."""
    for module in ("pip", "setuptools"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed in this environment"
    return None


def install(source: Path, target: Path) -> Path:
    """Build and install the package at `source` into `target` (offline, no deps); returns target.

    The source is copied first, so that the build leaves nothing in the repository.
    """
    reason = _pip_can_build()
    if reason:
        pytest.skip(f"cannot install the example plugin: {reason}")
    work = target.parent / f"{target.name}-src"
    shutil.copytree(source, work, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
         "--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet",
         "--target", str(target), str(work)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(target.glob("satbench_example_plugin-*.dist-info"))
    return target


def satbench(site: Path, cwd: Path, *argv) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([*SATBENCH, *argv], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return install(PLUGIN, tmp_path_factory.mktemp("plugin") / "site")


@pytest.fixture(scope="module")
def stored(site, tmp_path_factory) -> Path:
    """A store holding one `satbench run` of dense, fpe and random_sparse."""
    cwd = tmp_path_factory.mktemp("first")
    result = satbench(site, cwd, *RUN, "--out", "a")
    assert result.returncode == 0, result.stderr
    assert "stored 3 runs in a" in result.stderr
    return cwd / "a"


def rows_by_method(store: Path) -> dict[str, dict]:
    rows = read_results(store).to_dicts()
    by_method = {row["method"]: row for row in rows}
    assert len(by_method) == len(rows)
    return by_method


def test_plugins_lists_the_entry_point_plugin(site, tmp_path):
    result = satbench(site, tmp_path, "plugins")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()
             if line.startswith("  ")}
    for name in ("strided", "random_sparse"):
        assert "plugin example (package satbench-example-plugin)" in lines[name], lines[name]
        assert "version 1" in lines[name]
    assert "built-in" in lines["dense"] and "built-in" in lines["clause"]


def test_run_trains_the_plugin_method_and_splitter(site, stored, tmp_path):
    rows = rows_by_method(stored)
    assert set(rows) == {"dense", "fpe", "random_sparse"}
    assert rows["fpe"]["split"] == "strided"
    sparse, dense = rows["random_sparse"], rows["dense"]
    assert sparse["nnz_weights"] == dense["nnz_weights"] == 2 * 8 + 1 * 2  # h*d + o*h
    assert sparse["alpha"] == 2 and sparse["width_hidden"] == 4
    assert sparse["layer_format"] == "masked"

    # Deterministic: another process draws the same mask and trains the same weights.
    second = satbench(site, tmp_path, *RUN, "--out", "b")
    assert second.returncode == 0, second.stderr
    again = rows_by_method(tmp_path / "b")
    for method, row in rows.items():
        for column in ("run_key", "gram", "test_accuracy", "test_loss", "nnz_weights"):
            assert again[method][column] == row[column], (method, column)


def test_sweep_with_plugin_axes(site, tmp_path):
    result = satbench(site, tmp_path, "sweep", "--neurons", "2", "--clauses", "4", "--seeds", "1",
                      "--vars", "8", "--train", "64", "--test", "32", "--steps", "3,3",
                      "--split", "strided,clause", "--methods", "dense,fpe,random_sparse",
                      "--executor", "serial", "--no-progress", "--no-report", "--out", "sweep")
    assert result.returncode == 0, result.stderr
    rows = read_results(tmp_path / "sweep").to_dicts()
    # one context: dense once, fpe per split, random_sparse once (it takes no split)
    assert sorted((row["method"], row["split"]) for row in rows) == sorted(
        [("dense", None), ("fpe", "clause"), ("fpe", "strided"), ("random_sparse", None)])
    assert len({row["run_key"] for row in rows}) == 4


@pytest.mark.slow  # three sweeps
def test_bumping_the_version_retrains_only_that_method(site, stored, tmp_path):
    shutil.copytree(stored, tmp_path / "store")

    bumped = tmp_path / "bumped-source"
    shutil.copytree(PLUGIN, bumped, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    module = bumped / "satbench_example_plugin" / "random_sparse.py"
    text = module.read_text()
    assert text.count('version = "1"') == 1
    module.write_text(text.replace('version = "1"', 'version = "2"'))
    site2 = install(bumped, tmp_path / "site2")

    again = satbench(site2, tmp_path, *RUN, "--out", "store")
    assert again.returncode == 0, again.stderr
    assert "found 2 of 3 runs already finished in store" in again.stderr
    training = [line for line in again.stderr.splitlines() if line.startswith("training ")]
    assert len(training) == 1 and "random_sparse" in training[0], again.stderr
    assert "dense" not in training[0] and "fpe" not in training[0]

    rows = read_results(tmp_path / "store").to_dicts()
    assert sorted(row["method"] for row in rows) == ["dense", "fpe", "random_sparse",
                                                     "random_sparse"]
    sparse = [row for row in rows if row["method"] == "random_sparse"]
    assert sparse[0]["run_key"] != sparse[1]["run_key"]
    # same code, same seed: the retrained run has the same numbers under its new key
    assert sparse[0]["gram"] == sparse[1]["gram"]

    # the original version still finds all three
    unchanged = satbench(site, tmp_path, *RUN, "--out", "store")
    assert unchanged.returncode == 0, unchanged.stderr
    assert "found 3 of 3 runs already finished in store" in unchanged.stderr


def test_random_sparse_trains_the_same_batched_and_single():
    """In process: the method imported as `--plugin` would, then both trainers side by side."""
    from satbench.generators.dataset import build_dataset
    from satbench.methods import METHODS
    from satbench.models.splitters import SPLITTERS, unregister_splitter
    from satbench.runs import RunSpec, runs_for
    from satbench.specs import TaskSpec, TrainingContext
    from satbench.training.batched import train_runs_batched
    from satbench.training.single import train_runs

    loaded = "random_sparse" in METHODS.names()  # e.g. the package is installed in this venv
    if not loaded:
        assert "strided" not in SPLITTERS.names()
        sys.path.insert(0, str(PLUGIN))
    try:
        if not loaded:
            importlib.import_module("satbench_example_plugin")
        task = TaskSpec(n_vars=10, n_clauses=5, form="dnf", seed=3, n_train=200, n_test=100)
        dataset = build_dataset(task)
        contexts = [TrainingContext(task, neurons=3, warmup_steps=15, expanded_steps=15,
                                    learning_rate=0.05, batch_size=32, seed=seed)
                    for seed in (0, 1)]
        runs = [run for context in contexts
                for run in runs_for(context, ("dense", "fpe", "random_sparse"), alpha=2)]
        runs += [RunSpec(contexts[0], "random_sparse", {"alpha": 3}),
                 RunSpec(contexts[1], "fpe", {"alpha": 2, "split": "strided"})]
        assert all(run.trainer.batchable for run in runs)
        batched = train_runs_batched(runs, {task.fingerprint: dataset})
        single = {}
        for context in contexts:
            mine = [run for run in runs if run.context == context]
            single.update({t.run.key: t for t in train_runs(mine, dataset)})

        for run, got in zip(runs, batched, strict=True):
            want = single[run.key]
            assert got.run == want.run == run
            state_b, state_s = got.model.state_dict(), want.model.state_dict()
            assert state_b.keys() == state_s.keys()
            for name, value in state_s.items():
                if name.endswith("mask") or EXACT:
                    assert torch.equal(state_b[name], value), (run.describe(), name)
                else:
                    assert torch.allclose(state_b[name], value, atol=1e-4), (run.describe(), name)

        # the mask: alpha*h units, exactly the dense weight count, drawn from the run seed
        d, h = task.n_inputs, 3
        for run in runs:
            if run.method != "random_sparse":
                continue
            model = single[run.key].model
            alpha = run.params.alpha
            assert model.width == alpha * h
            assert int(model.fc1.mask.sum() + model.fc2.mask.sum()) == h * d + h
            assert model.nnz_weights() == h * d + h
            assert not model.fc1.is_dense
        sparse = [single[run.key].model for run in runs[:6] if run.method == "random_sparse"]
        assert not torch.equal(sparse[0].fc1.mask, sparse[1].fc1.mask)  # seeds 0 and 1 differ
        assert math.isnan(single[runs[2].key].clause_integrity)
        # a plugin's version is part of its run key
        assert runs[2].plugin_versions() == {"method:random_sparse": "1"}
        assert runs[-1].plugin_versions() == {"method:fpe": "2", "splitter:strided": "1"}
    finally:
        if not loaded:
            METHODS.unregister("random_sparse")
            unregister_splitter("strided")
            for name in ("satbench_example_plugin", "satbench_example_plugin.random_sparse"):
                sys.modules.pop(name, None)
            sys.path.remove(str(PLUGIN))

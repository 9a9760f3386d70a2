"""Batched training (satbench.training.batched) against the one-model trainer (train_runs).

Agreement, as measured with torch 2.13+cpu (MKL, AVX-512), the caller at one or two threads
(training itself is pinned to one, satbench.threads): every weight, bias and mask of every method
run equals train_runs' bitwise (max |difference| 0), so predictions agree on 100% of test rows.
That exactness depends on how this BLAS and CPU round each product, so it is asserted where it was
measured (EXACT); everywhere the tests hold the stated tolerance: max |weight difference| <=
WEIGHT_TOLERANCE and identical predictions on >= 99.5% of test rows.
"""

import hashlib
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from satbench.errors import SatbenchError
from satbench.generators.dataset import build_dataset
from satbench.methods import DEFAULT_METHODS, METHODS, Built, Method, register_method
from satbench.models.training import batch_indices
from satbench.registry import BUILT_IN
from satbench.runs import RunSpec, runs_for
from satbench.specs import TaskSpec, TrainingContext
from satbench.training import batched
from satbench.training.batched import group_key, train_runs_batched
from satbench.training.rows import evaluate
from satbench.training.single import train_runs

WEIGHT_TOLERANCE = 1e-4
PREDICTION_AGREEMENT = 0.995
EXACT = (torch.__version__.startswith("2.13") and torch.backends.mkl.is_available()
         and torch.backends.cpu.get_cpu_capability() == "AVX512")
ALL_METHODS = tuple(name for name in METHODS.names()  # every built-in the batched trainer runs
                    if METHODS.origin(name) == BUILT_IN and METHODS.get(name).batchable)

TASK_A = TaskSpec(n_vars=12, n_clauses=5, form="dnf", seed=1, n_train=384, n_test=256)
TASK_B = TaskSpec(n_vars=11, n_clauses=12, form="cnf", planted=True, seed=2, n_train=300,
                  n_test=200, encoding="literals")
TASK_C = TaskSpec(n_vars=9, n_clauses=4, form="dnf", seed=3, n_train=200, n_test=100,
                  target="clauses")
# (context, methods, params): two tasks (three with the clause target), mini-batches and full
# batches, alpha 2 and 4, and contexts whose methods do not include dense
CONTEXTS = [
    (TrainingContext(TASK_A, neurons=4, warmup_steps=30, expanded_steps=30, batch_size=64,
                     learning_rate=0.05, seed=0), ALL_METHODS, {"alpha": 2}),
    (TrainingContext(TASK_A, neurons=4, warmup_steps=30, expanded_steps=30, batch_size=0,
                     learning_rate=0.1, weight_decay=1e-3, seed=1), ALL_METHODS, {"alpha": 4}),
    (TrainingContext(TASK_B, neurons=5, warmup_steps=25, expanded_steps=35, batch_size=0,
                     learning_rate=0.02, seed=2), ALL_METHODS, {"alpha": 2, "split": "random"}),
    (TrainingContext(TASK_B, neurons=3, warmup_steps=0, expanded_steps=30, batch_size=50,
                     learning_rate=0.01, seed=3), ALL_METHODS,
     {"alpha": 4, "output_scale": "copy"}),
    (TrainingContext(TASK_C, neurons=6, warmup_steps=30, expanded_steps=0, batch_size=32,
                     learning_rate=0.01, seed=4), ALL_METHODS, {"alpha": 2}),
    (TrainingContext(TASK_C, neurons=3, warmup_steps=20, expanded_steps=20, batch_size=0,
                     learning_rate=0.1, seed=5), DEFAULT_METHODS, {}),  # the default methods
    (TrainingContext(TASK_A, neurons=3, warmup_steps=20, expanded_steps=20, batch_size=64,
                     learning_rate=0.05, seed=6), ("fpe", "dense_reset"), {"alpha": 2}),
    (TrainingContext(TASK_C, neurons=4, warmup_steps=15, expanded_steps=25, batch_size=0,
                     learning_rate=0.05, seed=7), ("sparse_scratch", "wide_dense"), {"alpha": 3}),
]
GROUPS = [runs_for(context, methods, **params) for context, methods, params in CONTEXTS]
RUNS = [run for group in GROUPS for run in group]


def with_context(runs, **changes) -> list[RunSpec]:
    """The runs with their context changed (schedule, seed, batch size...)."""
    return [RunSpec(run.context.replace(**changes), run.method, run.params) for run in runs]


def short(runs, steps: int) -> list[RunSpec]:
    """The runs with T1 and T2 capped at `steps`."""
    return [RunSpec(run.context.replace(warmup_steps=min(run.context.warmup_steps, steps),
                                        expanded_steps=min(run.context.expanded_steps, steps)),
                    run.method, run.params) for run in runs]


def by_context(runs) -> list[list[RunSpec]]:
    groups = {}
    for run in runs:
        groups.setdefault(run.context, []).append(run)
    return list(groups.values())


@pytest.fixture(scope="module")
def datasets():
    return {task.fingerprint: build_dataset(task) for task in (TASK_A, TASK_B, TASK_C)}


def compare(runs, datasets, trained_batched):
    """(max |weight difference|, fraction of test predictions alike), checking structure."""
    assert [t.run for t in trained_batched] == runs  # one result per run, in order
    single = {}
    for group in by_context(runs):
        for result in train_runs(group, datasets[group[0].context.task.fingerprint], "masked"):
            single[result.run.key] = result
    worst, same, total = 0.0, 0, 0
    for t_b in trained_batched:
        run, t_s = t_b.run, single[t_b.run.key]
        inputs = datasets[run.context.task.fingerprint].inputs("test")
        state_b, state_s = t_b.model.state_dict(), t_s.model.state_dict()
        assert state_b.keys() == state_s.keys()
        for name, value in state_s.items():
            assert state_b[name].shape == value.shape, (run.describe(), name)
            if name.endswith("mask"):
                assert torch.equal(state_b[name], value), (run.describe(), name)
            else:
                worst = max(worst, float((state_b[name] - value).abs().max()))
        assert (t_b.clause_integrity == t_s.clause_integrity
                or math.isnan(t_b.clause_integrity) and math.isnan(t_s.clause_integrity))
        assert t_b.layer_format == t_s.layer_format == "masked"
        with torch.no_grad():
            alike = (t_b.model(inputs) > 0) == (t_s.model(inputs) > 0)
        same, total = same + int(alike.sum()), total + alike.numel()
    return worst, same / total


def test_matches_train_runs_for_every_method(datasets):
    assert {run.method for run in RUNS} == set(ALL_METHODS)
    result = train_runs_batched(RUNS, datasets)
    worst, agreement = compare(RUNS, datasets, result)
    assert worst <= WEIGHT_TOLERANCE
    assert agreement >= PREDICTION_AGREEMENT
    if EXACT:
        assert worst == 0.0 and agreement == 1.0


def test_full_batch_pieces_of_one_model_each_match_train_runs(datasets, monkeypatch):
    """A full batch is cut into pieces of a width group; with a piece per model, a DropConnect
    model sits in a piece of its own and must still draw its masks once per step."""
    monkeypatch.setattr(batched, "CACHE_BYTES", 1)
    runs = [run for group in (GROUPS[1], GROUPS[2]) for run in group]
    assert "dropconnect" in {run.method for run in runs} and not runs[0].context.batch_size
    worst, agreement = compare(runs, datasets, train_runs_batched(runs, datasets))
    assert worst <= WEIGHT_TOLERANCE and agreement >= PREDICTION_AGREEMENT
    if EXACT:
        assert worst == 0.0


def test_matches_train_runs_when_the_caller_set_two_threads(datasets):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = (with_context(GROUPS[0], warmup_steps=10, expanded_steps=10)
                + with_context(GROUPS[4], warmup_steps=10, expanded_steps=10, batch_size=0))
        worst, agreement = compare(runs, datasets, train_runs_batched(runs, datasets))
    finally:
        torch.set_num_threads(threads)
    assert worst <= WEIGHT_TOLERANCE and agreement >= PREDICTION_AGREEMENT
    if EXACT:
        assert worst == 0.0


def test_models_work_with_evaluate(datasets):
    runs = GROUPS[0]
    trained = train_runs_batched(runs, datasets)
    rows = [evaluate(t, datasets[t.run.context.task.fingerprint]) for t in trained]
    assert [row["method"] for row in rows] == list(ALL_METHODS)
    assert [row["run_key"] for row in rows] == [run.key for run in runs]
    assert all(0.0 <= row["test_accuracy"] <= 1.0 for row in rows)
    assert len({t.wall_seconds for t in trained}) == 1 and trained[0].wall_seconds > 0


def test_masks_stay_fixed_and_hold_the_dense_budget(datasets):
    groups = [group for group in GROUPS
              if {"dense", "fpe", "sparse_scratch", "wide_dense"} <= {r.method for r in group}
              and group[0].context.warmup_steps > 0 and group[0].context.expanded_steps > 0]
    assert len(groups) >= 3
    runs = [run for group in groups for run in group]
    at_expansion = train_runs_batched(with_context(runs, expanded_steps=0), datasets)
    trained = train_runs_batched(runs, datasets)
    index = {run.key: i for i, run in enumerate(runs)}
    for group in groups:
        before = {r.method: at_expansion[index[r.key]].model for r in group}
        after = {r.method: trained[index[r.key]].model for r in group}
        budget = before["dense"].nnz_weights()  # the dense model at T1, which FPE expanded
        for method in ("fpe", "sparse_scratch"):
            model = after[method]
            for layer, start in ((model.fc1, before["fpe"].fc1), (model.fc2, before["fpe"].fc2)):
                assert torch.equal(layer.mask, start.mask)  # FPE's masks, unchanged by training
                assert not layer.weight[~layer.mask].any()  # no pruned weight was revived
            assert model.nnz_weights() == budget
            assert model.width == before["wide_dense"].width


def deterministic_runs() -> list[RunSpec]:
    return short(GROUPS[0] + GROUPS[2] + GROUPS[6], 8)


def test_deterministic_across_calls_and_processes(datasets):
    runs = deterministic_runs()
    first = digest(train_runs_batched(runs, datasets))
    assert digest(train_runs_batched(runs, datasets)) == first
    script = textwrap.dedent(f"""
        import torch
        torch.set_num_threads({torch.get_num_threads()})
        from tests.test_batched import deterministic_runs, digest
        from satbench.generators.dataset import build_dataset
        from satbench.training.batched import train_runs_batched
        runs = deterministic_runs()
        datasets = {{run.context.task.fingerprint: build_dataset(run.context.task)
                     for run in runs}}
        print(digest(train_runs_batched(runs, datasets)))
    """)
    root = Path(__file__).resolve().parents[1]
    other = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                           text=True, check=True)
    assert other.stdout.strip() == first


def digest(trained) -> str:
    hasher = hashlib.sha256()
    for result in trained:
        hasher.update(result.run.key.encode())
        for name, value in sorted(result.model.state_dict().items()):
            hasher.update(name.encode())
            hasher.update(value.contiguous().numpy().tobytes())
    return hasher.hexdigest()


def test_mixed_shapes_are_grouped_by_shape(datasets, monkeypatch):
    (c0, _, p0), (c1, _, p1), _, (c3, _, p3), (c4, _, p4), (c5, _, p5), *_ = CONTEXTS
    contexts = [
        (c0, p0),  # TASK_A (12 inputs, 1 output), batches of 64
        (c0.replace(seed=7, neurons=3), {"alpha": 3}),  # same shape: trains with the first
        (c1, p1),  # TASK_A, full batch of 384
        (c3, p3),  # TASK_B (22 inputs), batches of 50
        (c3.replace(batch_size=64), p3),  # TASK_B, batches of 64: not with the first (other d)
        (c5, p5),  # TASK_C (9 inputs, 4 outputs), full batch of 200
        (c4.replace(batch_size=0), p4),  # TASK_C, full batch: with c5 (another seed)
    ]
    contexts = [(context.replace(warmup_steps=min(context.warmup_steps, 10),
                                 expanded_steps=min(context.expanded_steps, 10)), params)
                for context, params in contexts]
    runs = [run for context, params in contexts for run in runs_for(context, ALL_METHODS,
                                                                      **params)]
    order = [context for context, _ in contexts]
    chunks = []
    original = batched._train_chunk

    def record(chunk, key):
        chunks.append((key, [order.index(state.context) for state in chunk]))
        original(chunk, key)

    monkeypatch.setattr(batched, "_train_chunk", record)
    result = train_runs_batched(runs, datasets)
    assert sorted(members for _, members in chunks) == [[0, 1], [2], [3], [4], [5, 6]]
    assert dict(chunks)[(12, 1, 64, False)] == [0, 1]
    assert dict(chunks)[(9, 4, 200, True)] == [5, 6]
    assert group_key(order[6]) == group_key(order[5])
    assert [t.run for t in result] == runs
    for trained in result:
        run, model = trained.run, trained.model
        task = run.context.task
        width = run.trainer.hidden_width(run.params, run.context)
        assert (model.n_inputs, model.width, model.n_outputs) == (
            task.n_inputs, width, task.n_outputs)
    worst, agreement = compare(runs, datasets, result)
    assert worst <= WEIGHT_TOLERANCE and agreement >= PREDICTION_AGREEMENT
    if EXACT:
        assert worst == 0.0


def test_a_memory_limit_cuts_a_group_into_chunks(datasets, monkeypatch):
    runs = [run for seed in range(3)
            for run in with_context(GROUPS[0], warmup_steps=5, expanded_steps=5, seed=seed)]
    sizes = []
    original = batched._train_chunk
    monkeypatch.setattr(batched, "_train_chunk",
                        lambda chunk, key: (sizes.append(len(chunk)), original(chunk, key)))
    whole = train_runs_batched(runs, datasets)
    assert sizes == [3]
    sizes.clear()
    # dense 4, fpe 8, wide_dense 8, sparse_scratch 8, dense_reset 4, fpe_overlap 8, dropconnect 4
    # hidden units, then tree_dense, as wide as the parameters of tree_cc's depth-3 tree (of one
    # unit: 3 gates on 12 inputs leave h=4 room for one)
    widths = [run.trainer.hidden_width(run.params, run.context) for run in GROUPS[0]]
    assert widths[:7] == [4, 8, 8, 8, 4, 8, 4] and widths[7:] == [13]
    one_context = sum(64 * (2 * width + 12) * 4 for width in widths)
    cut = train_runs_batched(runs, datasets, memory_limit=one_context)
    assert sizes == [1, 1, 1]
    assert digest(cut) == digest(whole)


def test_rows_follow_batch_indices():
    rows = batched._Rows(100, 32, seed=5)  # 3 batches an epoch, 4 rows left out of each
    window = rows.window(1, 8)  # steps 1..8 cross two epoch boundaries
    expected = torch.stack([batch_indices(100, 32, step, 5) for step in range(1, 9)])
    assert torch.equal(window, expected)


def test_a_missing_dataset_is_an_error(datasets):
    with pytest.raises(SatbenchError, match="no dataset"):
        train_runs_batched(GROUPS[0], {})
    with pytest.raises(SatbenchError, match="was built for task"):
        train_runs_batched(GROUPS[0], {TASK_A.fingerprint: datasets[TASK_B.fingerprint]})


class OwnLoop(Method):
    """A method that trains its own way (here: not at all), so the batched trainer cannot."""

    name = "test_own_loop"
    version = "1"
    summary = "a test method with its own training loop"
    batchable = False
    budget = "none"

    def build(self, params, setup) -> Built:
        return Built(setup.fresh_model(setup.context.neurons, "init"))

    def train(self, model, params, setup, on_step=None) -> None:
        pass


def test_a_method_that_is_not_batchable_is_a_one_line_error(datasets):
    register_method(OwnLoop)
    try:
        run = RunSpec(GROUPS[0][0].context, OwnLoop.name)
        with pytest.raises(SatbenchError, match="'test_own_loop' trains its own way") as error:
            train_runs_batched([*GROUPS[0], run], datasets)
        assert "\n" not in str(error.value)
        (trained,) = train_runs([run], datasets[TASK_A.fingerprint])  # the single trainer can
        assert trained.run == run and trained.model.width == run.context.neurons
    finally:
        METHODS.unregister(OwnLoop.name)

"""Specs: TaskSpec, TrainingContext and RunSpec validation, fingerprints and keys; every spec field
reaches the CLI flags, the result rows and the run key; plugin versions enter the key."""

import dataclasses
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from satbench.cli import main
from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.methods import METHODS, ExpansionParams, get_method, register_method
from satbench.methods.dense import Dense
from satbench.models.splitters import (
    balanced_labels,
    get_splitter,
    register_splitter,
    unregister_splitter,
)
from satbench.runs import RunSpec, runs_for
from satbench.specs import (
    TaskSpec,
    TrainingContext,
    choices_of,
    column_of,
    flag_of,
    non_default,
    spec_field,
    spec_fields,
)
from satbench.training.rows import train_and_evaluate

BASE = TaskSpec(n_vars=32, n_clauses=8, width=3, form="dnf", n_train=100, n_test=50)

CHANGES = {
    "n_vars": 33, "n_clauses": 9, "width": 2, "form": "cnf", "planted": True,
    "encoding": "literals", "target": "clauses", "n_train": 101, "n_test": 51,
    "positive_fraction": 0.25, "seed": 1, "formula_fingerprint": "0" * 64,
    "support": "disjoint",
}


def test_every_field_is_covered_by_the_change_table():
    assert set(CHANGES) == {f.name for f in dataclasses.fields(TaskSpec)}


@given(st.lists(st.sampled_from(sorted(CHANGES)), min_size=1, unique=True))
@settings(max_examples=60, deadline=None)
def test_any_change_to_the_spec_changes_its_fingerprint(fields):
    changes = {f: CHANGES[f] for f in fields}
    if changes.get("planted") and changes.get("form", BASE.form) != "cnf":
        changes["form"] = "cnf"
    assert BASE.replace(**changes).fingerprint != BASE.fingerprint


def test_the_fingerprint_is_the_same_in_another_process():
    code = ("from satbench.specs import TaskSpec; print(TaskSpec(n_vars=32, n_clauses=8, "
            "width=3, form='dnf', n_train=100, n_test=50).fingerprint)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == BASE.fingerprint


def test_a_field_added_later_keeps_earlier_fingerprints():
    # Computed by satbench 0.3.0, before `support` existed: shared support is its default.
    task = TaskSpec(n_vars=16, n_clauses=8, width=3, form="dnf", n_train=100, n_test=50)
    assert task.fingerprint == \
        "b4ea6e8b80378e4dfb56cb05bc0f21244e4670f573e87bef4ad4096d43174d31"
    assert task.replace(n_vars=24, support="disjoint").fingerprint != \
        task.replace(n_vars=24).fingerprint


def test_round_trip_through_a_dict():
    assert TaskSpec.from_dict(BASE.to_dict()) == BASE
    with pytest.raises(SatbenchError, match="unknown fields bogus"):
        TaskSpec.from_dict({**BASE.to_dict(), "bogus": 1})


@pytest.mark.parametrize("changes, message", [
    ({"encoding": "onehot"}, "encoding: expected one of pm1, literals"),
    ({"target": "sat"}, "target: expected one of formula, clauses"),
    ({"n_train": 0}, "n_train: expected an integer >= 1"),
    ({"positive_fraction": 1.5}, "positive_fraction"),
    ({"width": 40}, "width: 40 is larger"),
    ({"n_clauses": 11, "support": "disjoint"},
     "support disjoint: 11 clauses of 3 variables each need n_vars >= 33, got 32"),
    ({"n_clauses": 10**9}, "clauses: 1000000000 requested"),
    ({"n_vars": 4, "n_train": 10, "n_test": 10}, "only 16 distinct assignments"),
    ({"seed": -1}, "seed"),
])
def test_invalid_specs_name_the_field(changes, message):
    with pytest.raises(SatbenchError, match=message):
        BASE.replace(**changes)


# --- TrainingContext and RunSpec -----------------------------------------------------------

# A tiny task at TaskSpec's defaults where it has them (form cnf, pm1, formula target, seed 0).
TASK = TaskSpec(n_vars=12, n_clauses=4, n_train=64, n_test=32)
CONTEXT = TrainingContext(TASK, neurons=2, warmup_steps=3, expanded_steps=3)


@pytest.mark.parametrize("changes, message", [
    ({"neurons": 0}, "neurons: expected an integer >= 1"),
    ({"warmup_steps": -1}, "warmup_steps: expected an integer >= 0"),
    ({"batch_size": 1.5}, "batch_size: expected an integer >= 0"),
    ({"learning_rate": 0.0}, "learning_rate: expected a positive number"),
    ({"learning_rate": "fast"}, "learning_rate: expected a number"),
    ({"weight_decay": -1e-3}, "weight_decay: expected >= 0"),
    ({"seed": -1}, "seed: expected an integer >= 0"),
    ({"task": BASE.to_dict()}, "task: expected a TaskSpec"),
])
def test_invalid_contexts_name_the_field(changes, message):
    with pytest.raises(SatbenchError, match=message) as error:
        CONTEXT.replace(**changes)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("spec, changes, field", [
    (CONTEXT, {"learning_rate": float("inf")}, "learning_rate"),
    (CONTEXT, {"learning_rate": float("nan")}, "learning_rate"),
    (CONTEXT, {"weight_decay": float("inf")}, "weight_decay"),
    (CONTEXT, {"weight_decay": float("-inf")}, "weight_decay"),
    (BASE, {"positive_fraction": float("nan")}, "positive_fraction"),
])
def test_a_float_field_that_is_not_finite_is_refused(spec, changes, field):
    with pytest.raises(SatbenchError, match=f"^{field}: expected a finite number, got "):
        spec.replace(**changes)


@pytest.mark.parametrize("method, params", [
    ("dropconnect", {"drop": float("nan")}),
    ("tree_cc", {"node_decay": float("inf")}),
    ("bimt", {"bimt_learning_rate": float("inf")}),
])
def test_a_method_param_that_is_not_finite_is_refused(method, params):
    (name,) = params
    with pytest.raises(SatbenchError, match=f"^{name}: expected a finite number, got "):
        RunSpec(CONTEXT, method, params)


def test_a_huge_but_finite_learning_rate_is_a_valid_spec():
    """No upper bound has a principle behind it: such a run trains (and may diverge)."""
    assert CONTEXT.replace(learning_rate=1e30).learning_rate == 1e30


def test_a_context_round_trips_and_counts_its_steps():
    assert TrainingContext.from_dict(CONTEXT.to_dict()) == CONTEXT
    assert TrainingContext.from_dict(non_default(CONTEXT)) == CONTEXT
    assert CONTEXT.total_steps == 6
    assert CONTEXT.full_batch and CONTEXT.rows_per_step == TASK.n_train
    mini = CONTEXT.replace(batch_size=16)
    assert not mini.full_batch and mini.rows_per_step == 16


@pytest.mark.parametrize("batch_size", [64, 65, 99999999])
def test_a_batch_of_the_whole_training_set_is_refused_for_batch_0(batch_size):
    """It trains exactly as full batch (batch 0) does, but would be stored under another key."""
    message = (f"batch_size: {batch_size} is not smaller than the training set (n_train=64); "
               f"use batch_size 0 (--batch 0) for full batch")
    with pytest.raises(SatbenchError) as error:
        CONTEXT.replace(batch_size=batch_size)
    assert str(error.value) == message


@pytest.mark.parametrize("method, params, message", [
    ("fpe", {"alpha": 1}, "alpha: expected an integer >= 2 for fpe"),
    ("sparse_scratch", {"alpha": 1}, "alpha: expected an integer >= 2 for sparse_scratch"),
    ("wide_dense", {"alpha": 1}, "alpha: expected an integer >= 2 for wide_dense"),
    ("fpe", {"alpha": 0}, "alpha: expected an integer >= 1"),
    ("fpe", {"alpha": 13}, "alpha: 13 children cannot have disjoint non-empty inputs from 12"),
    ("fpe", {"split": "bogus"}, r"split: .*'bogus'"),
    ("fpe", {"output_scale": "half"}, "output_scale: expected one of copy, divide"),
    ("dense", {"alpha": 2}, "unknown fields alpha"),
    ("wide_dense", ExpansionParams(), "params: wide_dense takes WideParams, got ExpansionParams"),
    ("moe", None, "methods: unknown method 'moe'; known methods: bimt, dense, "
                    "dense_reset, dropconnect, fixed_classifier, fpe"),
])
def test_invalid_runs_are_one_line_errors(method, params, message):
    with pytest.raises(SatbenchError, match=message) as error:
        RunSpec(CONTEXT, method, params)
    assert "\n" not in str(error.value)


def test_runs_for_gives_each_method_the_params_it_takes():
    dense, fpe, wide = runs_for(CONTEXT, ("dense", "fpe", "wide_dense"), alpha=4, split="random")
    assert dataclasses.asdict(dense.params) == {}
    assert fpe.params == ExpansionParams(alpha=4, split="random")
    assert dataclasses.asdict(wide.params) == {"alpha": 4}
    assert {dense.run_key, fpe.run_key, wide.run_key} == {CONTEXT.key}
    assert len({dense.key, fpe.key, wide.key}) == 3
    with pytest.raises(SatbenchError, match="split: none of the methods dense, wide_dense takes"):
        runs_for(CONTEXT, ("dense", "wide_dense"), split="random")


def test_a_run_round_trips_and_its_params_may_be_a_dict_or_a_dataclass():
    run = RunSpec(CONTEXT, "fpe", {"alpha": 3, "split": "random"})
    assert run == RunSpec(CONTEXT, "fpe", ExpansionParams(alpha=3, split="random"))
    assert RunSpec.from_dict(run.to_dict()) == run
    assert RunSpec.from_dict(run.to_dict()).key == run.key
    assert run.describe() == "fpe(alpha=3, split=random, output_scale=copy)"
    assert RunSpec(CONTEXT, "dense").describe() == "dense"
    assert run.trainer is get_method("fpe")


def test_the_run_key_is_the_same_in_another_process():
    run = RunSpec(CONTEXT, "fpe", {"alpha": 3})
    code = ("from satbench.runs import RunSpec; from satbench.specs import TaskSpec, "
            "TrainingContext; print(RunSpec(TrainingContext(TaskSpec(n_vars=12, n_clauses=4, "
            "n_train=64, n_test=32), neurons=2, warmup_steps=3, expanded_steps=3), 'fpe', "
            "{'alpha': 3}).key)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == run.key


# --- every spec field reaches the flags, the rows and the key ------------------------------

# Changes the generic rule below cannot make (no default to step from, or a value it must be).
CHANGE_OVERRIDES = {"formula_fingerprint": "0" * 64, "overlap": 1, "drop": 0.25}


def changed_value(field: dataclasses.Field, value):
    """A valid value other than `value` for `field` (in CONTEXT's task and sizes)."""
    if field.name in CHANGE_OVERRIDES:
        return CHANGE_OVERRIDES[field.name]
    choices = choices_of(field)
    if choices:
        return next(choice for choice in choices if choice != value)
    if field.type is bool:
        return not value
    if field.type is int:
        return value + 1
    if field.type is float:
        return value + 0.25
    raise AssertionError(f"{field.name}: add a changed value to CHANGE_OVERRIDES")


def registered_methods() -> list[str]:
    return METHODS.names()


def every_field() -> list[tuple[str, str | None, dataclasses.Field]]:
    """(owner, method, field) for every field of TaskSpec, TrainingContext and every registered
    method's params."""
    out = [("TaskSpec", None, f) for f in spec_fields(TaskSpec)]
    out += [("TrainingContext", None, f) for f in spec_fields(TrainingContext)]
    out += [("params", name, f) for name in registered_methods()
            for f in spec_fields(get_method(name).params)]
    return out


@pytest.fixture(scope="module")
def rows_by_method() -> dict[str, dict]:
    return {row["method"]: row for row in train_and_evaluate(runs_for(CONTEXT,
                                                                      registered_methods()))}


@pytest.fixture(scope="module")
def run_help() -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["run", "--help"]) == 0
    return out.getvalue()


def test_the_table_covers_every_method_and_the_built_in_fields():
    fields = {(owner, method, f.name) for owner, method, f in every_field()}
    assert ("TaskSpec", None, "formula_fingerprint") in fields
    assert ("TrainingContext", None, "weight_decay") in fields
    assert {("params", "fpe", name) for name in ("alpha", "split", "output_scale")} <= fields
    assert ("params", "wide_dense", "alpha") in fields
    assert not any(method in ("dense", "dense_reset") for _, method, _ in every_field())


def test_every_spec_field_has_a_flag_or_says_why_not(run_help):
    for owner, method, field in every_field():
        flag = flag_of(field)
        if flag is None:
            reason = field.metadata.get("no_flag")
            assert isinstance(reason, str) and reason.strip(), (owner, field.name)
        else:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", run_help), (
                owner, method, field.name, flag)
        assert field.metadata.get("help", "").strip(), (owner, field.name)


def test_every_spec_field_has_a_column_in_the_rows_of_the_methods_that_have_it(rows_by_method):
    assert set(rows_by_method) == set(registered_methods())
    for owner, method, field in every_field():
        column = column_of(field)
        holders = [method] if method else list(rows_by_method)
        for name in holders:
            row = rows_by_method[name]
            assert column in row, (owner, name, field.name)
            if owner == "params":
                assert row[column] == getattr(RunSpec(CONTEXT, name).params, field.name)
            else:
                spec = CONTEXT.task if owner == "TaskSpec" else CONTEXT
                assert row[column] == getattr(spec, field.name), (owner, field.name)


def test_changing_any_spec_field_changes_the_run_key_and_defaults_stay_out_of_it():
    for owner, method, field in every_field():
        for name in [method] if method else registered_methods():
            base = RunSpec(CONTEXT, name)
            if owner == "params":
                default_value = getattr(base.params, field.name)
                changed = RunSpec(CONTEXT, name, {field.name: changed_value(field,
                                                                            default_value)})
                explicit = RunSpec(CONTEXT, name, {field.name: default_value})
                assert explicit.key == base.key, (name, field.name)
                assert field.name not in non_default(base.params)
                assert field.name in non_default(changed.params)
            else:
                spec = CONTEXT.task if owner == "TaskSpec" else CONTEXT
                value = changed_value(field, getattr(spec, field.name))
                if owner == "TaskSpec":
                    context = CONTEXT.replace(task=TASK.replace(**{field.name: value}))
                    documents = (non_default(CONTEXT)["task"], non_default(context)["task"])
                else:
                    context = CONTEXT.replace(**{field.name: value})
                    documents = (non_default(CONTEXT), non_default(context))
                changed = RunSpec(context, name, base.params)
                assert changed.run_key != base.run_key, (owner, field.name)
                if field.default is not dataclasses.MISSING:
                    at_default = getattr(spec, field.name) == field.default
                    assert (field.name in documents[0]) != at_default, (owner, field.name)
                    assert (field.name in documents[1]) == (value != field.default)
            assert changed.key != base.key, (owner, name, field.name)


# --- keys survive a new field with a default ------------------------------------------------


def test_a_new_field_with_a_default_keeps_every_key():
    """Keys hash the non-default fields only, so adding a field with a default to a spec keeps
    the keys of every stored run."""
    extended_context = dataclasses.make_dataclass(
        "TrainingContext",
        [("momentum", float, spec_field(0.0, help="a field added later"))],
        bases=(TrainingContext,), frozen=True)
    old = CONTEXT.replace(learning_rate=0.05)
    new = extended_context(TASK, neurons=2, warmup_steps=3, expanded_steps=3, learning_rate=0.05)
    assert non_default(new) == non_default(old)
    assert new.key == old.key
    assert extended_context.from_dict(non_default(old)) == new  # a stored spec still reads
    assert extended_context(TASK, neurons=2, warmup_steps=3, expanded_steps=3,
                            learning_rate=0.05, momentum=0.9).key != old.key

    extended_params = dataclasses.make_dataclass(
        "ExpansionParams", [("temperature", float, spec_field(1.0, help="added later"))],
        bases=(ExpansionParams,), frozen=True)
    assert non_default(extended_params(alpha=3)) == non_default(ExpansionParams(alpha=3))
    assert non_default(extended_params(alpha=3, temperature=2.0)) == {"alpha": 3,
                                                                       "temperature": 2.0}


def test_a_param_set_explicitly_to_its_default_keeps_the_key():
    run = RunSpec(CONTEXT, "fpe")
    assert RunSpec(CONTEXT, "fpe", {"alpha": 2, "split": "clause", "output_scale": "copy"}
                   ).key == run.key
    assert RunSpec(CONTEXT, "fpe", ExpansionParams()).key == run.key
    assert RunSpec(CONTEXT.replace(neurons=8).replace(neurons=2), "fpe").key == run.key
    assert RunSpec(CONTEXT, "fpe", {"alpha": 3}).key != run.key


# --- plugin versions enter the key -----------------------------------------------------------


class RoundRobinSplitter:
    """A test plugin splitter: input j to child j mod alpha, for every parent."""

    name = "test-round-robin"
    version = "1"
    shared = True

    def split(self, weight, alpha, context, rng):
        return np.tile(balanced_labels(context.n_inputs, alpha), (len(weight), 1))


class RoundRobinSplitterV2(RoundRobinSplitter):
    version = "2"


def test_a_plugin_splitters_version_enters_the_key_and_a_built_in_ones_once_bumped(monkeypatch):
    register_splitter(RoundRobinSplitter())
    try:
        run = RunSpec(CONTEXT, "fpe", {"split": "test-round-robin"})
        assert run.plugin_versions() == {"method:fpe": "2", "splitter:test-round-robin": "1"}
        assert run.to_dict()["versions"] == {"method:fpe": "2", "splitter:test-round-robin": "1"}
        first = run.key
        register_splitter(RoundRobinSplitterV2(), replace=True)
        assert RunSpec(CONTEXT, "fpe", {"split": "test-round-robin"}).key != first
        register_splitter(RoundRobinSplitter(), replace=True)  # the version, not the object, counts
        assert RunSpec(CONTEXT, "fpe", {"split": "test-round-robin"}).key == first
        # dense does not use the splitter: its key does not move
        assert RunSpec(CONTEXT, "dense").plugin_versions() == {}
    finally:
        unregister_splitter("test-round-robin")
    with pytest.raises(SatbenchError, match="split: .*'test-round-robin'"):  # gone with its plugin
        RunSpec(CONTEXT, "fpe", {"split": "test-round-robin"}).key  # noqa: B018

    # A built-in at version 1 keeps the keys stored before versions were keyed (dense, the
    # random splitter); a bump past 1 (fpe 2: output_scale defaults to copy; clause split 2 no
    # longer packs every clause into one child) enters the key, so its runs retrain.
    built_in = RunSpec(CONTEXT, "fpe", {"split": "random"})
    assert built_in.plugin_versions() == {"method:fpe": "2"}
    key = built_in.key
    assert key == sha256_of({"kind": "RunSpec", "context": non_default(CONTEXT),
                             "method": "fpe", "params": {"split": "random"},
                             "versions": {"method:fpe": "2"}, "seeding": 2})
    # Scheme 1's key (satbench.rng) is the one satbench wrote before the scheme entered keys.
    assert RunSpec(CONTEXT, "dense").key_under(1) == sha256_of(
        {"kind": "RunSpec", "context": non_default(CONTEXT), "method": "dense", "params": {}})
    monkeypatch.setattr(get_splitter("random"), "version", "2")
    assert RunSpec(CONTEXT, "fpe", {"split": "random"}).key != key
    assert RunSpec(CONTEXT, "fpe", {"split": "clause"}).plugin_versions() == {
        "method:fpe": "2", "splitter:clause": "2"}


def test_a_plugin_methods_version_enters_the_key():
    class PluginDense(Dense):
        name = "test_plugin_dense"
        version = "1"

    class PluginDenseV2(PluginDense):
        version = "2"

    register_method(PluginDense)
    try:
        run = RunSpec(CONTEXT, "test_plugin_dense")
        assert run.plugin_versions() == {"method:test_plugin_dense": "1"}
        first = run.key
        register_method(PluginDenseV2, replace=True)
        assert RunSpec(CONTEXT, "test_plugin_dense").key != first
    finally:
        METHODS.unregister("test_plugin_dense")
    assert RunSpec(CONTEXT, "dense").plugin_versions() == {}

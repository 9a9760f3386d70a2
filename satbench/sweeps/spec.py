"""SweepSpec: (neurons, clauses) cells x seeds x the values of any spec field, for a set of methods.

Any field of TaskSpec, TrainingContext or a method's params can be an axis: `axes` maps a field
name to the values it takes. Fields of one spec can also move together: the axis
"warmup_steps+expanded_steps" takes (T1, T2) pairs, for training budgets or the split's timing.
A method's runs take the product of the axes of its own params, so the dense baseline is trained
once per context however many alphas and splits FPE is swept over, and wide_dense once per alpha.
"""

import dataclasses
import itertools
from dataclasses import dataclass

from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.memory import check_memory
from satbench.methods import DEFAULT_METHODS, get_method
from satbench.runs import RunSpec
from satbench.specs import (
    EXPERIMENT_TASK_DEFAULTS,
    TaskSpec,
    TrainingContext,
    flag_of,
    spec_fields,
)

# Fields the grid itself sets: a cell's (neurons, n_clauses), and the seed (task and training).
GRID_FIELDS = ("neurons", "n_clauses", "seed")
BYTES_PER_RUN = 200  # a run in the expanded list: 200 to 340 bytes measured (the full preset)


def spec_classes(methods) -> list:
    """The specs a sweep over `methods` fills: the task, the training context, each params."""
    return [TaskSpec, TrainingContext, *(get_method(m).params for m in methods)]


def sweepable(field: dataclasses.Field) -> bool:
    """A field an axis can vary: one with a flag, not set by the grid itself."""
    return field.name not in GRID_FIELDS and flag_of(field) is not None


def axis_fields(methods) -> dict[str, dataclasses.Field]:
    """Every field a sweep over `methods` can vary, by name: task, context, then method params."""
    fields = {}
    for spec_class in spec_classes(methods):
        for field in filter(sweepable, spec_fields(spec_class)):
            fields.setdefault(field.name, field)
    return fields


@dataclass(frozen=True)
class SweepSpec:
    """Every run of a sweep. Seed s seeds both the task (formula and data) and the training.

    cells: (neurons, clauses) pairs. The CLI's --neurons x --clauses gives their product; presets
    may list cells directly, like the paper's two lines through the grid.
    axes: {field name: values}; fields without an axis take their defaults (the task's are
    EXPERIMENT_TASK_DEFAULTS).
    """

    name: str
    cells: tuple[tuple[int, int], ...]
    seeds: int = 3
    methods: tuple[str, ...] = DEFAULT_METHODS
    axes: tuple[tuple[str, tuple], ...] = (("split", ("clause", "random")),)

    def __post_init__(self):
        axes = dict(self.axes)
        object.__setattr__(self, "axes", tuple(
            (name, tuple(tuple(v) if isinstance(v, list) else v for v in values)
             if isinstance(values, list | tuple) else (values,))
            for name, values in axes.items()))
        object.__setattr__(self, "methods", tuple(self.methods))
        object.__setattr__(self, "cells", tuple((int(h), int(m)) for h, m in self.cells))
        for field in ("cells", "methods"):
            if not getattr(self, field):
                raise SatbenchError(f"{field}: the sweep needs at least one value")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise SatbenchError(f"seeds: expected a positive count, got {self.seeds!r}")
        known, seen = axis_fields(self.methods), set()
        for name, values in self.axes:
            fields = name.split("+")
            for field in fields:
                if field not in known:
                    raise SatbenchError(f"{field}: not a field any of the sweep's methods "
                                        f"({', '.join(self.methods)}) or its task and training "
                                        f"take; sweepable: {', '.join(known)}")
                if field in seen:
                    raise SatbenchError(f"{field}: in two axes of the sweep")
                seen.add(field)
            if not values:
                raise SatbenchError(f"{name}: the sweep needs at least one value")
            owners = {spec for spec in spec_classes(self.methods)
                      if set(fields) <= {f.name for f in spec_fields(spec)}}
            if len(fields) > 1 and not owners:
                raise SatbenchError(f"{name}: the fields of a joint axis must belong to one spec "
                                    f"(the task, the training, or a method's params)")
            if len(fields) > 1 and any(not isinstance(v, list | tuple) or len(v) != len(fields)
                                       for v in values):
                raise SatbenchError(f"{name}: each value must give {len(fields)} numbers, one "
                                    f"per field, e.g. {tuple(range(1, len(fields) + 1))}")
        least = len(self.cells) * self.seeds * len(self.methods)  # runs, whatever the axes
        check_memory(least * BYTES_PER_RUN, "seeds", f"a sweep of at least {least} runs",
                     "ask for fewer seeds or cells")
        self.runs()  # every run validates itself: bad counts or names fail before any work

    @classmethod
    def grid(cls, name: str, neurons, clauses, **fields) -> "SweepSpec":
        return cls(name, tuple(itertools.product(neurons, clauses)), **fields)

    def _products(self, spec_class, defaults: dict) -> list[dict]:
        """Every combination of the axes of `spec_class`'s fields (a joint axis moves its fields
        together); fields without an axis take their defaults."""
        own = {f.name: f.default for f in filter(sweepable, spec_fields(spec_class))}
        groups, covered = [], set()  # (field names, values as tuples over them)
        for axis, values in self.axes:
            names = axis.split("+")
            if set(names) <= set(own):
                groups.append((names, [joint_value(axis, v) for v in values]))
                covered |= set(names)
        for name, default in own.items():
            if name not in covered:
                groups.append(([name], [(defaults.get(name, default),)]))
        combos = []
        for choice in itertools.product(*[values for _, values in groups]):
            combo = {}
            for (names, _), value in zip(groups, choice, strict=True):
                combo |= dict(zip(names, value, strict=True))
            combos.append(combo)
        return combos

    def runs(self) -> list[RunSpec]:
        runs = {}
        tasks = self._products(TaskSpec, EXPERIMENT_TASK_DEFAULTS)
        trainings = self._products(TrainingContext, {})
        for (neurons, clauses), seed, task, training in itertools.product(
                self.cells, range(self.seeds), tasks, trainings):
            context = TrainingContext(TaskSpec(n_clauses=clauses, seed=seed, **task),
                                      neurons=neurons, seed=seed, **training)
            for method in self.methods:
                for params in self._products(get_method(method).params, {}):
                    run = RunSpec(context, method, params)
                    runs.setdefault(run.key, run)
        return list(runs.values())

    def to_dict(self) -> dict:
        return {"name": self.name, "cells": [list(c) for c in self.cells], "seeds": self.seeds,
                "methods": list(self.methods),
                "axes": {name: list(values) for name, values in self.axes}}

    @classmethod
    def from_dict(cls, data: dict) -> "SweepSpec":
        return cls(data["name"], data["cells"], data["seeds"], data["methods"],
                   tuple(data["axes"].items()))

    @property
    def fingerprint(self) -> str:
        return sha256_of({"kind": "SweepSpec", "spec": self.to_dict()})

    def replace(self, **changes) -> "SweepSpec":
        return dataclasses.replace(self, **changes)

    def single_values(self) -> dict:
        """{field: value} of every axis with one value (a joint axis gives each of its fields)."""
        return {field: value for axis, values in self.axes if len(values) == 1
                for field, value in zip(axis.split("+"), joint_value(axis, values[0]),
                                        strict=True)}

    def with_axes(self, **axes) -> "SweepSpec":
        """Set axes (a joint one as "a+b"=[(a, b), ...]), replacing any axis over their fields."""
        new = {field for name in axes for field in name.split("+")}
        kept = [(name, values) for name, values in self.axes if not new & set(name.split("+"))]
        return self.replace(axes=tuple(kept) + tuple(axes.items()))


def joint_value(axis: str, value) -> tuple:
    """One value of an axis as a tuple over its fields (one field: a 1-tuple)."""
    return tuple(value) if "+" in axis else (value,)

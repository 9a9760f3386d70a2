"""SweepSpec: a grid of (neurons, clauses) cells x alpha x split x seeds over one task family."""

import dataclasses
import itertools
from dataclasses import dataclass

from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.specs import EXPERIMENT_TASK_DEFAULTS, RunSpec, TaskSpec, field_defaults

_RUN_DEFAULTS = field_defaults(RunSpec)
_TASK_DEFAULTS = field_defaults(TaskSpec) | EXPERIMENT_TASK_DEFAULTS


@dataclass(frozen=True)
class SweepSpec:
    """Every run of a sweep. Seed s seeds both the task (formula and data) and the training.

    cells: (neurons, clauses) pairs. The CLI's --neurons x --clauses gives their product; presets
    may list cells directly, like the paper's two lines through the grid.
    """

    name: str
    cells: tuple[tuple[int, int], ...]
    alphas: tuple[int, ...] = (2,)
    splits: tuple[str, ...] = ("clause", "random")
    seeds: int = 3
    n_vars: int = _TASK_DEFAULTS["n_vars"]
    width: int = _TASK_DEFAULTS["width"]
    form: str = _TASK_DEFAULTS["form"]
    encoding: str = _TASK_DEFAULTS["encoding"]
    target: str = _TASK_DEFAULTS["target"]
    n_train: int = _TASK_DEFAULTS["n_train"]
    n_test: int = _TASK_DEFAULTS["n_test"]
    warmup_steps: int = _RUN_DEFAULTS["warmup_steps"]
    expanded_steps: int = _RUN_DEFAULTS["expanded_steps"]
    learning_rate: float = _RUN_DEFAULTS["learning_rate"]
    batch_size: int = _RUN_DEFAULTS["batch_size"]
    output_scale: str = _RUN_DEFAULTS["output_scale"]
    arms: tuple[str, ...] = _RUN_DEFAULTS["arms"]

    def __post_init__(self):
        for field in ("cells", "alphas", "splits", "arms"):
            object.__setattr__(self, field, tuple(getattr(self, field)))
            if not getattr(self, field):
                raise SatbenchError(f"{field}: the sweep needs at least one value")
        object.__setattr__(self, "cells", tuple((int(h), int(m)) for h, m in self.cells))
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise SatbenchError(f"seeds: expected a positive count, got {self.seeds!r}")
        self.runs()  # every run validates itself: bad counts or names fail before any work

    @classmethod
    def grid(cls, name: str, neurons, clauses, **fields) -> "SweepSpec":
        return cls(name, tuple(itertools.product(neurons, clauses)), **fields)

    def runs(self) -> list[RunSpec]:
        runs = []
        for (neurons, clauses), alpha, split, seed in itertools.product(
                self.cells, self.alphas, self.splits, range(self.seeds)):
            task = TaskSpec(n_vars=self.n_vars, n_clauses=clauses, width=self.width,
                            form=self.form, encoding=self.encoding, target=self.target,
                            n_train=self.n_train, n_test=self.n_test, seed=seed)
            runs.append(RunSpec(task, neurons=neurons, alpha=alpha, split=split,
                                output_scale=self.output_scale,
                                warmup_steps=self.warmup_steps,
                                expanded_steps=self.expanded_steps,
                                learning_rate=self.learning_rate, batch_size=self.batch_size,
                                seed=seed, arms=self.arms))
        return runs

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @property
    def fingerprint(self) -> str:
        return sha256_of({"kind": "SweepSpec", "spec": self.to_dict()})

    def replace(self, **changes) -> "SweepSpec":
        return dataclasses.replace(self, **changes)

"""Frozen, self-validating specs.

The CLI flags, results rows and fingerprints all derive from them.
"""

import dataclasses
from dataclasses import dataclass

from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of
from satbench.generators.formula import FORMS
from satbench.generators.random_formula import check_counts

ENCODINGS = ("pm1", "literals")
TARGETS = ("formula", "clauses")


def field_defaults(spec_class) -> dict:
    """A spec's field defaults by name: the one source for CLI flags and presets."""
    return {f.name: f.default for f in dataclasses.fields(spec_class)}


def _check_choice(field: str, value, choices) -> None:
    if value not in choices:
        raise SatbenchError(f"{field}: expected one of {', '.join(choices)}, got {value!r}")


def _check_int(field: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SatbenchError(f"{field}: expected an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class TaskSpec:
    """One formula-evaluation task: the formula's shape and the dataset drawn from it.

    encoding: pm1 gives n inputs in {-1,+1}; literals gives 2n inputs in {0,1} (x then not x).
    target: formula gives one output (the formula's value); clauses gives one per clause.
    formula_fingerprint: set when the formula is a user's file rather than generated from the
    seed; the dataset builder checks the file against it.
    """

    n_vars: int
    n_clauses: int
    width: int = 3
    form: str = "cnf"
    planted: bool = False
    encoding: str = "pm1"
    target: str = "formula"
    n_train: int = 4096
    n_test: int = 2048
    positive_fraction: float = 0.5
    seed: int = 0
    formula_fingerprint: str | None = None

    def __post_init__(self):
        _check_choice("form", self.form, FORMS)
        _check_choice("encoding", self.encoding, ENCODINGS)
        _check_choice("target", self.target, TARGETS)
        _check_int("n_train", self.n_train, 1)
        _check_int("n_test", self.n_test, 1)
        _check_int("seed", self.seed, 0)
        if not 0.0 <= float(self.positive_fraction) <= 1.0:
            raise SatbenchError(
                f"positive_fraction: expected a number in [0, 1], got {self.positive_fraction!r}"
            )
        if self.formula_fingerprint is None:
            if self.planted and self.form != "cnf":
                raise SatbenchError("planted: applies to cnf only")
            check_counts(self.n_vars, self.n_clauses, self.width, self.planted)
        else:
            _check_int("n_vars", self.n_vars, 1)
            _check_int("n_clauses", self.n_clauses, 1)
            _check_int("width", self.width, 1)
        if self.n_vars < 63 and self.n_train + self.n_test > 2**self.n_vars:
            raise SatbenchError(
                f"n_train + n_test: {self.n_train + self.n_test} samples requested, but only "
                f"{2**self.n_vars} distinct assignments of {self.n_vars} variables exist"
            )

    @property
    def n_inputs(self) -> int:
        return self.n_vars if self.encoding == "pm1" else 2 * self.n_vars

    @property
    def n_outputs(self) -> int:
        return 1 if self.target == "formula" else self.n_clauses

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TaskSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SatbenchError(f"TaskSpec: unknown fields {', '.join(unknown)}")
        return cls(**data)

    @property
    def fingerprint(self) -> str:
        return sha256_of({"kind": "TaskSpec", "spec": self.to_dict()})

    def replace(self, **changes) -> "TaskSpec":
        return dataclasses.replace(self, **changes)


# The task an experiment runs on when the user names no other: the FPE paper's Boolean DNF setting.
# n_train and n_test come from the dense-baseline tuning (reports/tuning/dense.md): with fewer rows
# the dense model overfits and capacity is confused with overfitting.
EXPERIMENT_TASK_DEFAULTS = {"n_vars": 32, "n_clauses": 8, "form": "dnf", "n_train": 16384,
                            "n_test": 4096}
OUTPUT_SCALES = ("copy", "divide")
ARMS = ("dense", "fpe", "wide_dense", "sparse_scratch", "dense_reset")
DEFAULT_ARMS = ("dense", "fpe", "wide_dense", "sparse_scratch")
EXPANDING_ARMS = ("fpe", "wide_dense", "sparse_scratch")  # alpha*h hidden units


@dataclass(frozen=True)
class RunSpec:
    """One FPE experiment: a task, a network width, an expansion and a two-phase schedule.

    Phase one trains the dense model for `warmup_steps`; FPE expands it and trains
    `expanded_steps` more with fixed masks; the dense baseline trains the same total from the same
    initialisation and data order. `seed` drives initialisation, data order and the splitter; the
    task has its own seed. Defaults were tuned on the dense baseline only
    (reports/tuning/dense.md).
    """

    task: TaskSpec
    neurons: int = 8
    alpha: int = 2
    split: str = "clause"
    output_scale: str = "divide"
    warmup_steps: int = 1000
    expanded_steps: int = 1000
    learning_rate: float = 0.1
    batch_size: int = 0  # 0 = full batch
    weight_decay: float = 0.0
    seed: int = 0
    arms: tuple[str, ...] = DEFAULT_ARMS

    def __post_init__(self):
        if not isinstance(self.task, TaskSpec):
            raise SatbenchError(f"task: expected a TaskSpec, got {type(self.task).__name__}")
        _check_int("neurons", self.neurons, 1)
        _check_int("alpha", self.alpha, 1)
        _check_int("warmup_steps", self.warmup_steps, 0)
        _check_int("expanded_steps", self.expanded_steps, 0)
        _check_int("batch_size", self.batch_size, 0)
        _check_int("seed", self.seed, 0)
        _check_choice("output_scale", self.output_scale, OUTPUT_SCALES)
        from satbench.models.splitters import get_splitter  # torch: loaded only for experiments

        get_splitter(self.split)  # an unknown name fails here, listing the known ones
        if self.alpha > self.task.n_inputs:
            raise SatbenchError(f"alpha: {self.alpha} children cannot have disjoint non-empty "
                                f"inputs from {self.task.n_inputs} inputs")
        if not float(self.learning_rate) > 0:
            raise SatbenchError(f"learning_rate: expected a positive number, got "
                                f"{self.learning_rate!r}")
        if not float(self.weight_decay) >= 0:
            raise SatbenchError(f"weight_decay: expected >= 0, got {self.weight_decay!r}")
        object.__setattr__(self, "arms", tuple(self.arms))
        for arm in self.arms:
            _check_choice("arms", arm, ARMS)
        if "dense" not in self.arms:
            raise SatbenchError("arms: the dense baseline is required (gains are measured "
                                "against it)")
        expanding = [arm for arm in self.arms if arm in EXPANDING_ARMS]
        if self.alpha < 2 and expanding:
            raise SatbenchError(f"alpha: expected an integer >= 2 for the arms that expand "
                                f"({', '.join(expanding)}), got {self.alpha}: one child per "
                                f"neuron is no expansion")

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["arms"] = list(self.arms)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "RunSpec":
        data = dict(data)
        data["task"] = TaskSpec.from_dict(data["task"])
        data["arms"] = tuple(data.get("arms", DEFAULT_ARMS))
        return cls(**data)

    @property
    def key(self) -> str:
        """The hash of the full spec: a rerun with the same spec finds finished work."""
        return sha256_of({"kind": "RunSpec", "spec": self.to_dict()})

    @property
    def full_batch(self) -> bool:
        return self.batch_size == 0 or self.batch_size >= self.task.n_train

    @property
    def rows_per_step(self) -> int:
        return self.task.n_train if self.full_batch else self.batch_size

    def replace(self, **changes) -> "RunSpec":
        return dataclasses.replace(self, **changes)

"""Frozen, self-validating specs: the bottom layer of satbench.

Each spec field is declared once, with its metadata: the CLI flag, the help text, the choices and
the result-row column. The CLI's flags, the sweep axes, the result rows and the run keys are all
generated from these declarations (satbench.spec_fields, satbench.cli), so a new field reaches
every one of them by being written here.

This module imports no generators, no models and no torch.
"""

import dataclasses
import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from math import comb

import numpy as np

from satbench.encoding import ENCODINGS, get_encoding
from satbench.errors import SatbenchError
from satbench.fingerprint import sha256_of

FORMS = ("cnf", "dnf")
# Counts and seeds end up in numpy and torch integers and in Int64 result-row columns; a larger
# one would overflow there (after the training), so the spec refuses it.
MAX_INT = 2**63 - 1
MAX_VARS = 2**31 - 1  # a DIMACS literal is stored as an int32 (Formula.literal_array)
SUPPORTS = ("shared", "disjoint")  # clauses draw from all n variables, or each has its own k
BASELINE = "dense"  # the method every other is measured against, and the branch source at T1
TARGETS = ("formula", "clauses")
# The seeding scheme (satbench.rng): 1 seeded every stream from (seed, stream name) alone, 2 adds
# the cell. Context and run keys carry it when it is not 1 (keys of scheme 1 stay as they were),
# so no stored row of another scheme is ever reused as this one's.
SEEDING = 2


def spec_field(default=MISSING, *, help: str, flag: str | None = None,
               column: str | None = None, choices: tuple | Callable[[], tuple] | None = None,
               no_flag: str | None = None, registry=None, added: str | None = None):
    """A spec field with the metadata that generates its flag, its row column and its help.

    flag: the CLI flag (default: --name with dashes); column: the result-row column (default:
    the field's name); choices: the allowed values, or a function returning them (for registries
    that plugins extend); no_flag: why the field has no flag of its own (it must say why);
    registry: the satbench.registry.Registry the value names an object of (a plugin's version
    then enters the run key); added: the satbench version that added the field, after
    fingerprints were published, so a fingerprint covers it only when it differs from its
    default (and every earlier one stays).
    """
    metadata = {"help": help, "flag": flag, "column": column, "choices": choices,
                "no_flag": no_flag, "registry": registry, "added": added}
    return dataclasses.field(default=default, metadata=metadata)


def flag_of(field: dataclasses.Field) -> str | None:
    if field.metadata.get("no_flag"):
        return None
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def column_of(field: dataclasses.Field) -> str:
    return field.metadata.get("column") or field.name


def choices_of(field: dataclasses.Field) -> tuple | None:
    choices = field.metadata.get("choices")
    return tuple(choices()) if callable(choices) else choices


def spec_fields(spec_class) -> list[dataclasses.Field]:
    """The fields of a spec class that hold values (nested specs excluded)."""
    return [f for f in dataclasses.fields(spec_class) if not _is_spec_type(f.type)]


def _is_spec_type(annotation) -> bool:
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


def non_default(spec) -> dict:
    """The fields of `spec` that differ from their defaults, nested specs recursively.

    Keys hash this, as open_lth's do: a field added later with a default keeps every existing key.
    """
    out = {}
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if dataclasses.is_dataclass(value):
            out[field.name] = non_default(value)
        elif field.default is MISSING or value != field.default:
            out[field.name] = list(value) if isinstance(value, tuple) else value
    return out


def check_choice(field: str, value, choices) -> None:
    if value not in choices:
        raise SatbenchError(f"{field}: expected one of {', '.join(map(str, choices))}, "
                            f"got {value!r}")


def check_at_most(field: str, value, maximum: int = MAX_INT) -> None:
    if value > maximum:
        raise SatbenchError(f"{field}: expected an integer <= {maximum}, got {value!r}")


def check_int(field: str, value, minimum: int, maximum: int = MAX_INT) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise SatbenchError(f"{field}: expected an integer >= {minimum}, got {value!r}")
    check_at_most(field, value, maximum)


def check_fields(spec) -> None:
    """Every field with fixed choices holds one of them; ints fit in 64 bits; floats are finite
    numbers (an inf or a nan learning rate, decay or probability can only train to NaN weights)."""
    for field in spec_fields(type(spec)):
        value = getattr(spec, field.name)
        choices = choices_of(field)
        if choices is not None:
            check_choice(field.name, value, choices)
        elif field.type is int and isinstance(value, int | np.integer):
            check_at_most(field.name, abs(value))
        elif field.type is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SatbenchError(f"{field.name}: expected a number, got {value!r}")
            if not math.isfinite(value):
                raise SatbenchError(f"{field.name}: expected a finite number, got {value!r}")


def max_distinct_clauses(n_vars: int, width: int, planted: bool = False) -> int:
    """How many distinct width-k clauses exist (k distinct variables, any signs).

    A planted assignment rules out the one sign pattern per variable set that it violates.
    """
    return comb(n_vars, width) * (2**width - (1 if planted else 0))


def check_counts(n_vars: int, n_clauses: int, width: int, planted: bool = False,
                 support: str = "shared") -> None:
    for name, value, maximum in (("vars", n_vars, MAX_VARS), ("clauses", n_clauses, MAX_INT),
                                 ("width", width, MAX_INT)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise SatbenchError(f"{name}: expected a positive integer, got {value!r}")
        check_at_most(name, value, maximum)
    if width > n_vars:
        raise SatbenchError(f"width: {width} is larger than the number of variables ({n_vars})")
    if support == "disjoint":
        if n_clauses * width > n_vars:
            raise SatbenchError(f"support disjoint: {n_clauses} clauses of {width} variables each "
                                f"need n_vars >= {n_clauses * width}, got {n_vars}")
        return
    limit = max_distinct_clauses(n_vars, width, planted)
    if n_clauses > limit:
        what = "satisfied by a planted assignment" if planted else "distinct"
        raise SatbenchError(
            f"clauses: {n_clauses} requested, but only {limit} {what} width-{width} clauses "
            f"exist over {n_vars} variables"
        )


@dataclass(frozen=True)
class TaskSpec:
    """One formula-evaluation task: the formula's shape and the dataset drawn from it."""

    n_vars: int = spec_field(help="variables n", flag="--vars", column="vars")
    n_clauses: int = spec_field(help="clauses m (distinct)", flag="--clauses", column="clauses")
    width: int = spec_field(3, help="literals per clause k")
    form: str = spec_field("cnf", help="cnf (a conjunction of clauses) or dnf (a disjunction "
                                       "of terms)", choices=FORMS)
    planted: bool = spec_field(False, help="plant an assignment so a cnf is satisfiable")
    encoding: str = spec_field("pm1", help="; ".join(e.description for e in ENCODINGS.values()),
                               choices=tuple(ENCODINGS))
    target: str = spec_field("formula", help="formula: one output, the formula's value; "
                                             "clauses: one output per clause", choices=TARGETS)
    n_train: int = spec_field(4096, help="training rows", flag="--train")
    n_test: int = spec_field(2048, help="test rows", flag="--test")
    positive_fraction: float = spec_field(0.5, help="share of rows where the formula is true")
    support: str = spec_field("shared", choices=SUPPORTS, added="0.4",
                              help="shared: clauses draw their variables from all n; disjoint: "
                                   "each clause has its own k variables (a read-once formula; "
                                   "needs n >= m*k, the rest are irrelevant inputs)")
    seed: int = spec_field(0, help="seeds the formula and the data", column="task_seed")
    formula_fingerprint: str | None = spec_field(
        None, help="set when the formula is a user's DIMACS file rather than generated from the "
                   "seed; the dataset builder checks the file against it",
        no_flag="set from the file given with --formula")

    def __post_init__(self):
        check_fields(self)
        check_int("n_train", self.n_train, 1)
        check_int("n_test", self.n_test, 1)
        check_int("seed", self.seed, 0)
        if not 0.0 <= float(self.positive_fraction) <= 1.0:
            raise SatbenchError(
                f"positive_fraction: expected a number in [0, 1], got {self.positive_fraction!r}"
            )
        if self.formula_fingerprint is None:
            if self.planted and self.form != "cnf":
                raise SatbenchError("planted: applies to cnf only")
            check_counts(self.n_vars, self.n_clauses, self.width, self.planted, self.support)
        else:
            check_int("n_vars", self.n_vars, 1, MAX_VARS)
            check_int("n_clauses", self.n_clauses, 1)
            check_int("width", self.width, 1)
        if self.n_vars < 63 and self.n_train + self.n_test > 2**self.n_vars:
            raise SatbenchError(
                f"n_train + n_test: {self.n_train + self.n_test} samples requested, but only "
                f"{2**self.n_vars} distinct assignments of {self.n_vars} variables exist"
            )

    @property
    def n_inputs(self) -> int:
        return get_encoding(self.encoding).n_inputs(self.n_vars)

    @property
    def n_outputs(self) -> int:
        return 1 if self.target == "formula" else self.n_clauses

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TaskSpec":
        return from_dict(cls, data)

    @property
    def fingerprint(self) -> str:
        """The task's identity: every field (fields added later only when not at their default,
        so earlier fingerprints stay valid), so a dataset file names exactly what it holds."""
        return sha256_of({"kind": "TaskSpec", "spec": identity_dict(self)})

    @property
    def formula_cell(self) -> str:
        return formula_cell(*(getattr(self, name) for name in FORMULA_FIELDS))

    @property
    def data_cell(self) -> str:
        """The digest that seeds the dataset's rows with the task's seed (satbench.rng): the
        fields that decide which rows are drawn, so every field but the seed and the two that
        only present the rows (encoding, target; fields added later only when not at their
        default)."""
        fields = {k: v for k, v in identity_dict(self).items()
                  if k not in ("seed", "encoding", "target")}
        return sha256_of({"kind": "DataCell", "spec": fields})

    @property
    def cell(self) -> str:
        """The task's part of a run's cell (TrainingContext.cell): every field but the seed (the
        encoding and the target shape the network), fields added later only when not at their
        default."""
        fields = {k: v for k, v in identity_dict(self).items() if k != "seed"}
        return sha256_of({"kind": "TaskCell", "spec": fields})

    def replace(self, **changes) -> "TaskSpec":
        return dataclasses.replace(self, **changes)


def identity_dict(spec) -> dict:
    """to_dict without the `added` fields that are at their defaults."""
    return {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)
            if not (f.metadata.get("added") and getattr(spec, f.name) == f.default)}


def from_dict(spec_class, data: dict):
    """A spec from its dict (to_dict or non_default), nested specs included; unknown fields are a
    one-line error."""
    fields = {f.name: f for f in dataclasses.fields(spec_class)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise SatbenchError(f"{spec_class.__name__}: unknown fields {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        kind = fields[name].type
        if _is_spec_type(kind):
            value = from_dict(kind, value)
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return spec_class(**values)


# The TaskSpec fields that define the formula (the rest define the dataset drawn from it).
FORMULA_FIELDS = ("n_vars", "n_clauses", "width", "form", "planted", "support")


def formula_cell(n_vars: int, n_clauses: int, width: int, form: str, planted: bool,
                 support: str) -> str:
    """The digest that seeds a generated formula's streams with its seed (satbench.rng): the
    formula's fields and nothing else, so formulas of two shapes never nest at one seed."""
    fields = {"n_vars": int(n_vars), "n_clauses": int(n_clauses), "width": int(width),
              "form": form, "planted": bool(planted), "support": support}
    return sha256_of({"kind": "FormulaCell", "fields": fields})

# The task an experiment runs on when the user names no other: the FPE paper's Boolean DNF setting.
# n_train and n_test come from the dense-baseline tuning (reports/tuning/dense.md): with fewer rows
# the dense model overfits and capacity is confused with overfitting.
EXPERIMENT_TASK_DEFAULTS = {"n_vars": 32, "n_clauses": 8, "form": "dnf", "n_train": 16384,
                            "n_test": 4096}


@dataclass(frozen=True)
class TrainingContext:
    """What every method of a run shares: the task, the dense width, the schedule, the optimizer
    and the seed.

    The schedule has a branch step, warmup_steps (T1): every method trains warmup_steps +
    expanded_steps in all, and a method that starts from the dense model's state (FPE) starts at
    T1 and trains the expanded_steps (T2) after it. `seed` drives initialisation, data order and
    the splitter; the task has its own seed. Defaults were tuned on the dense baseline only
    (reports/tuning/dense.md).
    """

    task: TaskSpec
    neurons: int = spec_field(8, help="hidden neurons h of the dense network")
    warmup_steps: int = spec_field(1000, help="T1: dense warm-up steps, where methods that "
                                              "start from the dense model branch off")
    expanded_steps: int = spec_field(1000, help="T2: steps after the branch")
    learning_rate: float = spec_field(0.1, help="Adam learning rate", flag="--lr")
    batch_size: int = spec_field(0, help="mini-batch size (0: full batch)", flag="--batch")
    weight_decay: float = spec_field(0.0, help="Adam weight decay")
    seed: int = spec_field(0, help="seeds the initialisation, the data order and the splitter")

    def __post_init__(self):
        if not isinstance(self.task, TaskSpec):
            raise SatbenchError(f"task: expected a TaskSpec, got {type(self.task).__name__}")
        check_fields(self)
        check_int("neurons", self.neurons, 1)
        check_int("warmup_steps", self.warmup_steps, 0)
        check_int("expanded_steps", self.expanded_steps, 0)
        check_int("batch_size", self.batch_size, 0)
        if self.batch_size >= self.task.n_train:
            # It trains exactly as full batch does, so it would store batch 0's results again
            # under another key.
            raise SatbenchError(f"batch_size: {self.batch_size} is not smaller than the training "
                                f"set (n_train={self.task.n_train}); use batch_size 0 (--batch 0) "
                                f"for full batch")
        check_int("seed", self.seed, 0)
        if not float(self.learning_rate) > 0:
            raise SatbenchError(f"learning_rate: expected a positive number, got "
                                f"{self.learning_rate!r}")
        if not float(self.weight_decay) >= 0:
            raise SatbenchError(f"weight_decay: expected >= 0, got {self.weight_decay!r}")

    def key_under(self, seeding: int) -> str:
        """The key this context had, or has, under seeding scheme `seeding` (satbench.rng)."""
        document = {"kind": "TrainingContext", "spec": non_default(self)}
        if seeding != 1:
            document["seeding"] = seeding
        return sha256_of(document)

    @property
    def key(self) -> str:
        """The hash of the non-default fields and the seeding scheme: every method of a run
        shares it (`run_key`)."""
        return self.key_under(SEEDING)

    @property
    def cell(self) -> str:
        """The digest that seeds every stream a run draws with the context's seed (init, data
        order, splitter, ...; satbench.rng): the task's cell and the dense width h. The schedule
        and the optimizer are not in it: they are treatments compared on the same network."""
        return sha256_of({"kind": "ContextCell", "task": self.task.cell,
                          "neurons": int(self.neurons)})

    @property
    def total_steps(self) -> int:
        return self.warmup_steps + self.expanded_steps

    @property
    def full_batch(self) -> bool:
        return self.batch_size == 0 or self.batch_size >= self.task.n_train

    @property
    def rows_per_step(self) -> int:
        return self.task.n_train if self.full_batch else self.batch_size

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainingContext":
        return from_dict(cls, data)

    def replace(self, **changes) -> "TrainingContext":
        return dataclasses.replace(self, **changes)

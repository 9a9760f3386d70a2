"""What a method is: a name, a params spec, where it starts, how it trains, what it is compared
with. Each method is one module in this package (or in a user's plugin) and one registration line.

A method trains inside a TrainingContext shared by all methods of a run (task, dense width h,
schedule T1 + T2, optimizer, seed). It either starts from scratch at step 0 and trains T1 + T2
steps, or starts from the dense model's state after T1 (`starts_from = "dense"`) and trains the
T2 steps after it with a fresh optimizer. Every method sees the same data order: batch `step` is
the same rows for all of them (satbench.models.training.batch_indices). Every stream a method
draws is seeded from the run seed and the context's cell (satbench.rng: Setup.rng,
Setup.generator), so methods of one context share their random numbers and cells do not.
"""

import copy
import math
from dataclasses import dataclass, field

from satbench.errors import SatbenchError
from satbench.models import MLP
from satbench.models.training import WeightDropout, make_optimizer, train_steps
from satbench.rng import run_numpy_rng, run_torch_generator
from satbench.specs import TrainingContext, check_int, spec_field

# What a method holds equal to the dense baseline: a row column, or none (a reference).
BUDGETS = ("nnz_weights", "macs_per_example", "trainable_parameters", "none")
# How far a method's measured cost may exceed dense's in the column it names, relative to
# dense's: none. A method at "the same budget" costs at most what dense costs, at every cell.
BUDGET_TOLERANCE = 0.0


@dataclass(frozen=True)
class NoParams:
    """The params of a method that has none."""


def alpha_field():
    """The expansion factor, shared by every method that widens the dense layer."""
    return spec_field(2, help="expansion factor alpha: children per neuron, or the width "
                              "multiple of the wide methods (>= 2)")


def check_alpha(alpha, method: str) -> None:
    check_int("alpha", alpha, 1)
    if alpha < 2:
        raise SatbenchError(f"alpha: expected an integer >= 2 for {method}, got {alpha}: one "
                            f"child per neuron is no expansion")


@dataclass
class Built:
    """A method's model before training, and what the report records about how it was made."""

    model: MLP
    clause_integrity: float = math.nan
    clause_collisions: float = math.nan  # see satbench.models.splitters.clause_collisions
    clause_collisions_any: float = math.nan

    def measures(self) -> dict:
        """How the model was made, for the result row."""
        return {"clause_integrity": self.clause_integrity,
                "clause_collisions": self.clause_collisions,
                "clause_collisions_any": self.clause_collisions_any}


@dataclass
class Setup:
    """What building and training a model may use: the context, the dataset, the dense model
    after T1 (for methods that need it) and a per-run cache that methods share (FPE's expansion is
    built once for fpe and sparse_scratch)."""

    context: TrainingContext
    dataset: object  # satbench.generators.dataset.Dataset
    warm: MLP | None = None
    cache: dict = field(default_factory=dict)

    def optimizer(self, model: MLP):
        """A fresh Adam optimizer with the context's learning rate and weight decay."""
        return make_optimizer(model, self.context.learning_rate, self.context.weight_decay)

    def rng(self, stream: str, *extra: int):
        """The run's numpy stream `stream` (the context's seed and cell, satbench.rng)."""
        return run_numpy_rng(self.context, stream, *extra)

    def generator(self, stream: str, *extra: int):
        """The run's torch stream `stream` (the context's seed and cell, satbench.rng)."""
        return run_torch_generator(self.context, stream, *extra)

    def fresh_model(self, width: int, stream: str) -> MLP:
        """A new MLP of `width` hidden units, initialised from the run's `stream`."""
        task = self.context.task
        return MLP(task.n_inputs, width, task.n_outputs, self.generator(stream))


class Method:
    """The base of every method. Subclasses set the class attributes and implement build()."""

    name: str
    version: str  # plugins: bump it when the method's results change, so its runs retrain
    summary: str  # one line, for --help and `satbench plugins`
    params: type = NoParams  # a frozen dataclass of spec_field()s: flags, row columns, key
    starts_from: str | None = None  # None: scratch at step 0; "dense": the dense model at T1
    needs_warm: bool = False  # building the model reads the dense model at T1
    batchable: bool = True  # trains with train() below, so the batched trainer can replay it
    structured: bool = False  # its first layer has FPE's structure: layer formats apply
    budget: str = "nnz_weights"  # held equal to dense's: one of BUDGETS
    compare_with: tuple[str, ...] = ("dense",)  # the report compares it with these

    def check(self, params, context: TrainingContext) -> None:
        """Raise SatbenchError when `params` cannot run in `context`."""

    def hidden_width(self, params, context: TrainingContext) -> int:
        return context.neurons

    def budget_for(self, params, context: TrainingContext) -> str:
        """The budget this run holds equal to dense's (its row's `budget`): `budget`, unless
        the method cannot meet it in this context and says so (tree_cc at the smallest h).
        tests/test_budgets.py measures every built-in method against dense at every preset
        cell: a declared budget must hold within BUDGET_TOLERANCE."""
        return self.budget

    def build(self, params, setup: Setup) -> Built:
        raise NotImplementedError

    def outcomes(self, model, params, context: TrainingContext, dataset) -> dict:
        """The method's own outcome columns for its row (satbench.row_schema.METHOD_OUTCOMES),
        measured on the trained model; the columns it does not give are null."""
        return {}

    def weight_dropout(self, params, context: TrainingContext) -> WeightDropout | None:
        """Random weight masks the standard loop draws every step (DropConnect), or None. Both
        trainers apply them, so a method that only needs them keeps batchable = True."""
        return None

    def first_step(self, context: TrainingContext) -> int:
        return context.warmup_steps if self.starts_from else 0

    def steps(self, context: TrainingContext) -> int:
        return context.total_steps - self.first_step(context)

    def train(self, model: MLP, params, setup: Setup, on_step=None) -> MLP | None:
        """Adam on the mean BCE with fixed masks, from first_step for steps(). Returns a copy of
        the model as it was when the last tenth of its steps began (for the convergence check),
        or None. A method that overrides this must set batchable = False."""
        context = setup.context
        first, steps = self.first_step(context), self.steps(context)
        return adam_steps(model, setup.optimizer(model), setup, first, steps, on_step,
                          snapshot_at=late_step(first, steps),
                          dropout=self.weight_dropout(params, context))


def late_step(first_step: int, steps: int) -> int | None:
    """The step where the last tenth (at least one step) of a run's training begins."""
    return first_step + steps - math.ceil(steps / 10) if steps else None


def adam_steps(model: MLP, optimizer, setup: Setup, first_step: int, steps: int,
               on_step=None, snapshot_at: int | None = None,
               dropout: WeightDropout | None = None) -> MLP | None:
    """Steps first_step .. first_step + steps - 1 of the context's shared schedule. Returns a
    copy of the model as it was before step snapshot_at when that step is in the range."""
    context = setup.context

    def run(first: int, count: int) -> None:
        train_steps(model, optimizer, setup.dataset.inputs("train"),
                    setup.dataset.targets("train"), first_step=first, steps=count,
                    batch_size=context.batch_size, seed=context.seed, on_step=on_step,
                    dropout=dropout, cell=context.cell)

    if snapshot_at is None or not first_step <= snapshot_at < first_step + steps:
        run(first_step, steps)
        return None
    run(first_step, snapshot_at - first_step)
    late = copy.deepcopy(model)
    run(snapshot_at, first_step + steps - snapshot_at)
    return late

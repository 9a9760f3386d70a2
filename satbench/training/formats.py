"""The format a run holds its FPE-structured first layer in, and the conversions.

Methods that declare `structured = True` (fpe, sparse_scratch) have a first layer with FPE's
structure: each parent input feeds at most one of alpha children. `planned_format(run)` picks the
FPELinear format such a run trains in: the one `select_format` expects to be fastest for the
split, the device and the layer and batch size, or the format the user asked for. Every other
method trains `masked`. Which format ran does not change the function the layer computes
(tests/test_layer_format.py trains every format side by side); it changes round-off only, and it
is stored with each result row as `layer_format`.

`masked` is held as the project's MaskedLinear rather than an FPELinear: it is the same
computation, and it is the form the batched trainer (satbench.training.batched) reproduces
bitwise. Any other format converts the first layer to a new FPELinear before the optimizer is
built, and back to a MaskedLinear after training, so that evaluation, metrics and storage see one
kind of model.
"""

from satbench.errors import SatbenchError
from satbench.kernels import FORMAT_CHOICES, FPELinear, fpe_mlp, select_format
from satbench.models import MLP, get_splitter
from satbench.runs import RunSpec


def planned_format(run: RunSpec, requested: str = "auto") -> str:
    """The concrete format `run` trains its first layer in (experiments train on the CPU);
    `requested` may force one for structured methods."""
    if requested not in FORMAT_CHOICES:
        raise SatbenchError(f"layer format: expected one of {', '.join(FORMAT_CHOICES)}, "
                            f"got {requested!r}")
    if not run.trainer.structured:
        return "masked"
    params, context = run.params, run.context
    shared = get_splitter(params.split).shared
    if requested == "grouped" and not shared:
        raise SatbenchError(f"layer format 'grouped': needs a shared split, but split "
                            f"{params.split!r} gives each parent its own partition; use auto, "
                            "masked, child_label or csr")
    if requested != "auto":
        return requested
    return select_format(shared, "cpu", d=context.task.n_inputs, h=context.neurons,
                         alpha=params.alpha, batch=context.rows_per_step)


def check_layer_format(runs: list[RunSpec], requested: str) -> None:
    """Fail with one line if `requested` cannot serve one of `runs` (before any work starts)."""
    for run in runs:
        planned_format(run, requested)


def with_format(model: MLP, alpha: int, fmt: str) -> MLP:
    """`model` with its first layer in format `fmt` (a copy), or `model` itself for masked."""
    return model if fmt == "masked" else fpe_mlp(model, alpha, format=fmt)


def as_masked(model: MLP) -> MLP:
    """`model` with a MaskedLinear first layer (converted in place when it is an FPELinear); a
    model with no fc1 (tree_cc's) as it is."""
    if isinstance(getattr(model, "fc1", None), FPELinear):
        model.fc1 = model.fc1.to_masked()  # copies the weights under no_grad
    return model

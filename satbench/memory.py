"""Refuse, before any work, what cannot fit in this machine's memory.

Each check compares a lower bound of what the work needs with the machine's physical memory, so it
refuses only what cannot run here, never what merely might not. A count that fits its type but is
absurd (`--vars 2000000000 --planted`, `--neurons 100000000000`, `--seeds 1000000000000`) is then
one line, instead of an allocation failure with a traceback, or hours of work before it.
"""

import os

from satbench.errors import SatbenchError

BYTES_PER_INT = 8  # numpy's int64 draws and literal arrays
BYTES_PER_FLOAT = 4  # torch float32 weights and activations


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(need: int, field: str, what: str, fix: str) -> None:
    """One line naming `field` when `what` needs more than `need` bytes the machine has."""
    available = physical_memory()
    if available is not None and need > available:
        raise SatbenchError(f"{field}: {what} would need about {need / 2**30:.0f} GiB of memory, "
                            f"more than this machine's {available / 2**30:.0f} GiB; {fix}")


def check_formula_memory(n_vars: int, n_clauses: int, width: int, planted: bool,
                         support: str) -> None:
    """random_formula holds every literal as an int64 at least, and draws an int64 per variable
    for a planted assignment or a disjoint support's permutation."""
    literals = n_clauses * width * BYTES_PER_INT
    variables = n_vars * BYTES_PER_INT if planted or support == "disjoint" else 0
    field = "clauses" if literals >= variables else "vars"
    check_memory(literals + variables, field, f"{n_clauses} clauses of {width} literals over "
                 f"{n_vars} variables", "ask for fewer clauses or variables")


def check_training_memory(runs) -> None:
    """Every run's training holds at least the dense model's weights four times (the weights,
    their gradients and Adam's two moments) and one step's hidden activations."""
    for run in runs:
        context, task = run.context, run.context.task
        width = run.trainer.hidden_width(run.params, context)
        floats = (4 * context.neurons * (task.n_inputs + task.n_outputs)
                  + context.rows_per_step * width)
        check_memory(floats * BYTES_PER_FLOAT, "neurons", f"{run.method} with {width} hidden "
                     f"units", "ask for fewer neurons or a smaller alpha")

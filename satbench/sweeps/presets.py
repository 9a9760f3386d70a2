"""Named sweeps. Task sizes sit in the informative regime measured on the dense baseline.

At n=32 variables the dense baseline (tuned defaults) is between chance and ceiling for
8 to 32 clauses; h=16 neurons already solves 8 clauses (reports/tuning/dense.md), and the pilot
found the balanced task easier again at 64 clauses. Every report shows each cell's floor
(majority class) and ceiling (wide_dense), so a cell at ceiling is visible as such.
"""

from satbench.errors import SatbenchError
from satbench.sweeps.spec import SweepSpec

PAPER_NEURONS_AT_8_CLAUSES = (2, 4, 8, 16)
PAPER_CLAUSES_AT_8_NEURONS = (4, 8, 16, 32)

PRESETS = {
    # The default main job: shows the effect on a small grid in a few minutes on 2 cores.
    "quick": SweepSpec(
        name="quick", cells=((4, 16), (8, 8), (8, 16), (8, 32)), seeds=3,
        methods=("dense", "fpe", "wide_dense"),
        axes={"alpha": (2,), "split": ("clause", "random")},
    ),
    # The FPE paper's Boolean sweeps: neurons vary at 8 clauses, clauses vary at 8 neurons.
    "paper": SweepSpec(
        name="paper",
        cells=tuple(dict.fromkeys([(h, 8) for h in PAPER_NEURONS_AT_8_CLAUSES]
                                  + [(8, m) for m in PAPER_CLAUSES_AT_8_NEURONS])),
        seeds=5, methods=("dense", "fpe", "wide_dense", "sparse_scratch"),
        axes={"alpha": (2, 4), "split": ("clause", "random")},
    ),
    # A larger grid, for a GPU or many machines.
    "full": SweepSpec.grid(
        "full", neurons=(2, 4, 8, 16, 32), clauses=(4, 8, 16, 32, 64), seeds=10,
        methods=("dense", "fpe", "wide_dense", "sparse_scratch", "dense_reset"),
        axes={"alpha": (2, 3, 4, 8), "split": ("clause", "random", "random-shared", "contiguous")},
    ),
}


def get_preset(name: str) -> SweepSpec:
    if name not in PRESETS:
        raise SatbenchError(f"preset: unknown preset {name!r}; known presets: "
                            f"{', '.join(PRESETS)}")
    return PRESETS[name]

"""An example satbench plugin: a splitter (`strided`) and a method (`random_sparse`).

satbench imports this module through the `satbench.plugins` entry point in pyproject.toml (or
with `--plugin satbench_example_plugin`), and everything registered while it is imported is
attributed to this plugin.
"""

import numpy as np

from satbench.models.splitters import register_splitter
from satbench_example_plugin import random_sparse  # noqa: F401  (registers random_sparse)


class StridedSplitter:
    """Input j goes to child j % alpha, the same partition for every parent (no randomness).

    Group sizes differ by at most one. Unlike `contiguous`, neighbouring inputs land in different
    children, so a clause over neighbouring variables is split apart.
    """

    name = "strided"
    version = "1"  # bump it when the partition changes: the runs that use it retrain
    shared = True  # one partition for all parents (the grouped layer format applies)

    def split(self, weight, alpha, context, rng):
        row = (np.arange(context.n_inputs) % alpha).astype(np.int8)
        return np.tile(row, (len(weight), 1))


register_splitter(StridedSplitter())

"""Sweeps: running many experiments, from grids of runs to training many small models at once."""

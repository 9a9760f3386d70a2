"""Formulas, DIMACS I/O, assignment sampling and datasets. Knows nothing of networks."""

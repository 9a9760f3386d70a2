"""Aggregation, statistics, tables and figures. Reports read stored results and never retrain."""

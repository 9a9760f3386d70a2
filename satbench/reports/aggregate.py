"""Stored rows (one per arm per run) into one row per run, paired comparisons and cell summaries.

A run is one RunSpec: its arms (dense, fpe, ...) share the task, the data order and the warm-up,
so every FPE-vs-dense number here is a difference within one run, never across runs.
"""

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from satbench.errors import SatbenchError
from satbench.store import StoreWarning, read_results

log = logging.getLogger("satbench.reports")

METHODS = ("dense", "fpe", "wide_dense", "sparse_scratch", "dense_reset")
CELL = ("neurons", "clauses")
DESIGN = ("neurons", "clauses", "alpha", "split", "seed")
# RunSpec and TaskSpec fields outside the grid. When one of them varies within a store, its value
# becomes part of each result's "setting", and runs are only ever compared within one setting.
SETTING_COLUMNS = ("output_scale", "vars", "width", "form", "encoding", "target", "planted",
                   "n_train", "n_test", "warmup_steps", "expanded_steps", "learning_rate",
                   "batch_size", "weight_decay")
ARM_METRICS = ("test_accuracy", "train_accuracy", "mean_abs_cos", "mean_abs_cos_shared_inputs",
               "capacity_total", "capacity_clause_total", "clause_interference",
               "polysemanticity_mean", "nnz_weights")
RUN_COLUMNS = DESIGN + SETTING_COLUMNS + ("majority_accuracy",)


def col(method: str, metric: str = "test_accuracy") -> str:
    """The runs-table column holding one arm's metric, e.g. 'fpe.test_accuracy'."""
    return f"{method}.{metric}"


@dataclass
class Results:
    """Everything a report is built from."""

    sources: list[Path]
    rows: pl.DataFrame  # as stored: one row per arm per run
    runs: pl.DataFrame  # one row per run: design, setting, every arm's metrics, gains
    settings: list[str]  # the setting columns that vary in this store
    methods: list[str]  # the arms present
    notes: list[str] = field(default_factory=list)


def load_rows(sources) -> tuple[pl.DataFrame, list[str]]:
    """Every valid row of one or more results dirs, and a note for each skipped file."""
    frames, notes = [], []
    for source in sources:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StoreWarning)
            frame = read_results(source)
        skipped = [str(w.message) for w in caught if issubclass(w.category, StoreWarning)]
        for message in skipped:  # on the terminal as well as in the report
            log.warning(message)
        notes += [f"skipped a stored file: {message}" for message in skipped]
        if not frame.is_empty():
            frames.append(frame)
    if not frames:
        names = ", ".join(str(s) for s in sources)
        raise SatbenchError(f"{names}: no valid satbench result rows found (expected run files "
                            f"under runs/*.parquet)")
    return pl.concat(frames, how="diagonal_relaxed"), notes


def _setting_label(runs: pl.DataFrame, settings: list[str]) -> pl.Expr:
    if not settings:
        return pl.lit("")
    parts = []
    for name in settings:
        parts += [pl.lit(f"{name}="), pl.col(name).cast(pl.String).fill_null("?"), pl.lit(", ")]
    return pl.concat_str(parts[:-1])


def build_runs(rows: pl.DataFrame) -> tuple[pl.DataFrame, list[str], list[str], list[str]]:
    """One row per run key; returns (runs, varying setting columns, methods present, notes)."""
    notes = []
    missing = [c for c in DESIGN if c not in rows.columns]
    if missing:
        raise SatbenchError(f"results rows lack the design columns {', '.join(missing)}")
    present = [c for c in RUN_COLUMNS if c in rows.columns]
    runs = rows.group_by("run_key", maintain_order=True).agg(
        [pl.col(c).first() for c in present]).sort("run_key")
    methods = [m for m in METHODS if m in set(rows["method"].unique())]
    others = sorted(set(rows["method"].unique()) - set(METHODS))
    methods += others
    for method in methods:
        metrics = [m for m in ARM_METRICS if m in rows.columns]
        arm = (rows.filter(pl.col("method") == method)
               .unique("run_key", keep="first", maintain_order=True)
               .select("run_key", *[pl.col(m).alias(col(method, m)) for m in metrics]))
        runs = runs.join(arm, on="run_key", how="left")
    settings = [c for c in SETTING_COLUMNS if c in runs.columns and runs[c].n_unique() > 1]
    runs = runs.with_columns(_setting_label(runs, settings).alias("setting"))

    key = list(DESIGN) + ["setting"]
    before = len(runs)
    runs = runs.unique(key, keep="first", maintain_order=True)
    if len(runs) < before:
        notes.append(f"{before - len(runs)} runs repeat the design (cell, alpha, split, seed, "
                     f"setting) of another run, e.g. with a different list of arms; the first "
                     f"by run key is used")

    if "dense" in methods and "fpe" in methods:
        dense, fpe = pl.col(col("dense")), pl.col(col("fpe"))
        runs = runs.with_columns((fpe - dense).alias("gain"), (fpe / dense - 1).alias("rel_gain"))
        unpaired = runs.filter(pl.col("gain").is_null()).height
        if unpaired:
            notes.append(f"{unpaired} of {len(runs)} runs lack a dense or an fpe arm; "
                         f"FPE-vs-dense comparisons skip them")
    else:
        runs = runs.with_columns(pl.lit(None, pl.Float64).alias("gain"),
                                 pl.lit(None, pl.Float64).alias("rel_gain"))
        lacking = " and ".join(m for m in ("dense", "fpe") if m not in methods)
        notes.append(f"no {lacking} rows: every FPE-vs-dense comparison is skipped")
    runs = runs.with_columns((pl.col("clauses") / pl.col("neurons")).alias("pressure"))
    return runs.sort("setting", "alpha", "split", "neurons", "clauses", "seed"), settings, \
        methods, notes


def load(results_dir) -> Results:
    """Read one results dir (or a list of them) into a Results. Raises SatbenchError if empty."""
    sources = ([Path(results_dir)] if isinstance(results_dir, str | Path)
               else [Path(s) for s in results_dir])
    rows, notes = load_rows(sources)
    runs, settings, methods, more = build_runs(rows)
    return Results(sources, rows, runs, settings, methods, notes + more)


def paired(runs: pl.DataFrame) -> pl.DataFrame:
    """The runs with an FPE-vs-dense gain."""
    return runs.filter(pl.col("gain").is_not_null() & pl.col("gain").is_not_nan())


def arm_difference(runs: pl.DataFrame, a: str, b: str, metric: str = "test_accuracy"):
    """Runs holding both arms, with diff = a - b of `metric` (within each run)."""
    if col(a, metric) not in runs.columns or col(b, metric) not in runs.columns:
        return runs.clear().with_columns(pl.lit(None, pl.Float64).alias("diff"))
    out = runs.with_columns((pl.col(col(a, metric)) - pl.col(col(b, metric))).alias("diff"))
    return out.filter(pl.col("diff").is_not_null() & pl.col("diff").is_not_nan())


def across_runs(runs: pl.DataFrame, column: str, a, b, value: str,
                keep: tuple[str, ...] = ()) -> pl.DataFrame:
    """Pairs of runs that differ only in `column` (a vs b), with diff = value(a) - value(b).

    Pairs match on the rest of the design and on every setting column other than `column`.
    """
    if column not in runs.columns:
        return pl.DataFrame()
    match = [c for c in DESIGN + SETTING_COLUMNS if c in runs.columns and c != column]
    left = runs.filter(pl.col(column) == a).select(*match, pl.col(value).alias("a"), *keep)
    right = runs.filter(pl.col(column) == b).select(*match, pl.col(value).alias("b"))
    pairs = left.join(right, on=match, how="inner", nulls_equal=True)
    pairs = pairs.with_columns((pl.col("a") - pl.col("b")).alias("diff"))
    return pairs.filter(pl.col("diff").is_not_null() & pl.col("diff").is_not_nan())


def groups_by_cell(frame: pl.DataFrame, value: str = "diff") -> list[list[float]]:
    """The values of `value`, one list per (neurons, clauses) cell: bootstrap strata."""
    if frame.is_empty():
        return []
    grouped = frame.group_by(*CELL).agg(pl.col(value)).sort(*CELL)
    return [list(v) for v in grouped[value]]

"""Stored rows (one per method run) into one row per design point, paired comparisons and cell
summaries.

The methods of one training context (one context_key) share the task, the data order and the
dense warm-up, so every method-vs-dense number here is a difference within one context, never
across contexts. A design point is a context and a value of the methods' params (alpha, split,
output_scale, ...): the runs table has one row per point, with each method's metrics joined on
the context and the params that method has (dense on the context alone, wide_dense on alpha too,
fpe on all three). The report calls a design point a "run", as satbench 0.2 did.
"""

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from satbench.errors import SatbenchError
from satbench.specs import BASELINE, TaskSpec, TrainingContext, column_of, spec_fields
from satbench.store import StoreWarning, read_results

log = logging.getLogger("satbench.reports")

CELL = ("neurons", "clauses")
DESIGN = ("neurons", "clauses", "alpha", "split", "seed")
ARM_METRICS = ("run_key", "test_accuracy", "train_accuracy", "mean_abs_cos",
               "mean_abs_cos_shared_inputs", "capacity_total", "capacity_clause_total",
               "clause_interference", "polysemanticity_mean", "nnz_weights", "converged",
               "clause_collisions", "clause_integrity", "test_exact_match")
# Spec columns that are neither the design nor a copy of it.
NOT_SETTINGS = DESIGN + ("task_seed",)


def param_columns(rows: pl.DataFrame) -> list[str]:
    """The params columns of the methods in `rows` (each row names its method's), in order of
    first appearance. Rows describe themselves, so a report needs no method's code (and no
    torch)."""
    if "method_params" not in rows.columns:
        return []
    names = [n for value in rows["method_params"].unique(maintain_order=True).to_list()
             for n in (value or "").split(",") if n]
    return list(dict.fromkeys(names))


DERIVED = ("context_key", "setting", "gain", "rel_gain", "pressure", "majority_accuracy")


def run_params(runs: pl.DataFrame) -> list[str]:
    """The params columns of a runs table: what is neither a spec field of the context or task,
    nor a method's metric, nor derived."""
    spec = {column_of(f) for s in (TrainingContext, TaskSpec) for f in spec_fields(s)}
    return [c for c in runs.columns if "." not in c and c not in spec and c not in DERIVED]


def setting_columns(params: list[str]) -> list[str]:
    """Spec fields outside the grid. When one of them varies within a store, its value becomes
    part of each result's "setting", and runs are only ever compared within one setting."""
    columns = params + [column_of(f) for spec in (TrainingContext, TaskSpec)
                        for f in spec_fields(spec)]
    return [c for c in dict.fromkeys(columns) if c not in NOT_SETTINGS]


def col(method: str, metric: str = "test_accuracy") -> str:
    """The runs-table column holding one method's metric, e.g. 'fpe.test_accuracy'."""
    return f"{method}.{metric}"


@dataclass
class Results:
    """Everything a report is built from."""

    sources: list[Path]
    rows: pl.DataFrame  # as stored: one row per method run
    runs: pl.DataFrame  # one row per design point: design, setting, every method's metrics
    settings: list[str]  # the setting columns that vary in this store
    methods: list[str]  # the methods present, dense first
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


def setting_label(settings: list[str]) -> pl.Expr:
    """"name=value, ..." over the `settings` columns (a missing value as "?")."""
    if not settings:
        return pl.lit("")
    parts = []
    for name in settings:
        parts += [pl.lit(f"{name}="), pl.col(name).cast(pl.String).fill_null("?"), pl.lit(", ")]
    return pl.concat_str(parts[:-1])


def _most_specific(points: pl.DataFrame, params: list[str]) -> pl.DataFrame:
    """Drop each design point that a point of its context ranking higher agrees with (on the
    params both set). A point ranks by how many of the design's params (alpha, split) it sets,
    then by how many params: a dense-only point goes where fpe points exist, wide_dense's (alpha)
    where fpe's (alpha, split, output_scale) exist, dropconnect's (drop), bimt's (alpha and its
    own) and tree_cc's (depth) beside fpe's. A method whose params are not set in the points left
    joins on the context alone (or on the params it shares with them)."""
    keep = []
    by_context: dict[str, list[dict]] = {}
    for point in points.iter_rows(named=True):
        by_context.setdefault(point["context_key"], []).append(point)

    def rank(point):
        return (sum(point.get(c) is not None for c in DESIGN),
                sum(point[c] is not None for c in params))

    def refines(q, p):
        both = [c for c in params if p[c] is not None and q[c] is not None]
        return rank(q) > rank(p) and all(q[c] == p[c] for c in both)

    for index, point in enumerate(points.iter_rows(named=True)):
        if not any(refines(other, point) for other in by_context[point["context_key"]]):
            keep.append(index)
    return points[keep]


def build_runs(rows: pl.DataFrame) -> tuple[pl.DataFrame, list[str], list[str], list[str]]:
    """One row per design point; returns (runs, varying setting columns, methods present,
    notes)."""
    notes = []
    missing = [c for c in ("context_key", "method", "neurons", "clauses", "seed")
               if c not in rows.columns]
    if missing:
        raise SatbenchError(f"results rows lack the columns {', '.join(missing)}")
    rows = rows.sort("context_key", "run_key")  # one order, whatever order files were read in
    params = [c for c in param_columns(rows) if c in rows.columns]
    for column in ("alpha", "split"):  # the design's; a store without them has them empty
        if column not in rows.columns:
            rows = rows.with_columns(pl.lit(None).alias(column))
            params.append(column)
    shared = [c for c in ("neurons", "clauses", "seed", *setting_columns(params),
                          "majority_accuracy")
              if c in rows.columns and c not in params]
    contexts = rows.group_by("context_key", maintain_order=True).agg(
        [pl.col(c).first() for c in shared])
    points = _most_specific(rows.select("context_key", *params).unique(maintain_order=True),
                            params)
    runs = points.join(contexts, on="context_key", how="left")
    in_points = [c for c in params if points[c].null_count() < points.height]
    present = set(rows["method"].unique())
    methods = [BASELINE] * (BASELINE in present) + sorted(present - {BASELINE})
    for method in methods:
        own = rows.filter(pl.col("method") == method)
        keys = [c for c in in_points if own[c].null_count() < own.height]
        metrics = [m for m in ARM_METRICS if m in rows.columns]
        joined = (own.unique(["context_key", *keys], keep="first", maintain_order=True)
                  .select("context_key", *keys,
                          *[pl.col(m).alias(col(method, m)) for m in metrics]))
        runs = runs.join(joined, on=["context_key", *keys], how="left", nulls_equal=True)
    # A param some design points lack (fpe_overlap's overlap beside a store without it) belongs
    # to a method, not to the setting its comparisons run in.
    settings = [c for c in setting_columns(params) if c in runs.columns
                and runs[c].n_unique() > 1 and (c not in params or runs[c].null_count() == 0)]
    runs = runs.with_columns(setting_label(settings).alias("setting"))

    key = list(DESIGN) + ["setting"]
    before = len(runs)
    runs = runs.unique(key, keep="first", maintain_order=True)
    if len(runs) < before:
        notes.append(f"{before - len(runs)} runs repeat the design (cell, alpha, split, seed, "
                     f"setting) of another run; the first by context key is used")

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


def load(results_dir, replaced: dict[str, dict] | None = None) -> Results:
    """Read one results dir (or a list of them) into a Results. Raises SatbenchError if empty.
    replaced: {run key: row} to read in place of the stored rows of those runs (satbench verify
    renders a report from rows retrained on another platform), in the stored order."""
    sources = ([Path(results_dir)] if isinstance(results_dir, str | Path)
               else [Path(s) for s in results_dir])
    rows, notes = load_rows(sources)
    if replaced:
        fresh = pl.DataFrame(list(replaced.values()), infer_schema_length=None)
        rows = rows.update(fresh.select([pl.col(c).cast(rows.schema[c]) for c in fresh.columns
                                         if c in rows.columns]), on="run_key")
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
    match = [c for c in [*DESIGN, *setting_columns(run_params(runs))]
             if c in runs.columns and c != column]
    left = runs.filter(pl.col(column) == a).select(*match, pl.col(value).alias("a"), *keep)
    right = runs.filter(pl.col(column) == b).select(*match, pl.col(value).alias("b"))
    pairs = left.join(right, on=match, how="inner", nulls_equal=True)
    pairs = pairs.with_columns((pl.col("a") - pl.col("b")).alias("diff"))
    return pairs.filter(pl.col("diff").is_not_null() & pl.col("diff").is_not_nan())


def groups_by_cell(frame: pl.DataFrame, value: str = "diff") -> list[list[float]]:
    """The values of `value`, one list per (neurons, clauses) cell, in a canonical order: cells
    by key, each cell's values sorted. Whatever order the rows came in, one comparison is then
    the same floating-point sums, and the same printed numbers, in every section that cites it."""
    if frame.is_empty():
        return []
    grouped = frame.group_by(*CELL).agg(pl.col(value).sort()).sort(*CELL)
    return [list(v) for v in grouped[value]]

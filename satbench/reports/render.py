"""report.md and its figures from a results store. Reads stored rows only; never trains.

write_report builds everything in a temporary directory inside out_dir and moves the files into
place at the end, report.md last, so a failure never leaves a half-written report.
"""

import json
import math
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import polars as pl

from satbench import paper as paper_numbers
from satbench.reports import figures, stats
from satbench.reports.against_paper import against_paper_section, report_conclusions
from satbench.reports.aggregate import (
    Results,
    arm_difference,
    col,
    groups_by_cell,
    load,
    paired,
    run_params,
    setting_columns,
)
from satbench.reports.bimt_figure import bimt_graph
from satbench.reports.collisions import collision_figure, collision_runs, collision_section
from satbench.reports.comparisons import comparison_section, pooled_method_section
from satbench.reports.conclusions import (
    Conclusion,
    ci_text,
    format_p,
    line_label,
    lines,
    points,
)
from satbench.reports.pareto import pareto
from satbench.reports.per_clause import per_clause_section
from satbench.reports.schedule import budget_section
from satbench.reports.structure import structure_section
from satbench.reports.tables import by_setting, percent_ci
from satbench.reports.tables import markdown_table as table


def _counts(frame: pl.DataFrame, column: str) -> str:
    if column not in frame.columns:
        return "not recorded"
    counts = Counter(frame[column].fill_null("unknown").to_list())
    return "; ".join(f"{value} ({n} rows)" for value, n in counts.most_common())


def _manifests(results: Results) -> list[str]:
    stored = set(results.rows["run_key"])
    out = []
    for source in results.sources:
        for path in sorted((source / "sweeps").glob("*.json")):
            try:
                document = json.loads(path.read_text())
                spec, keys = document["spec"], document["run_keys"]
                cells = ", ".join(f"({h}, {m})" for h, m in spec["cells"])
                axes = "; ".join(f"{name} {', '.join(map(str, values))}"
                                 for name, values in spec["axes"].items())
                methods = ", ".join(spec["methods"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
                out.append(f"`{path}`: unreadable manifest ({type(error).__name__})")
                continue
            found = sum(key in stored for key in keys)
            out.append(f"`{path.name}`: sweep **{spec.get('name')}**: cells (h, m) {cells}; "
                       f"{spec['seeds']} seeds; methods {methods}; {axes}: **{found} of "
                       f"{len(keys)} runs stored**")
    return out or ["none found (no `sweeps/*.json` in the results dir)"]


def header(results: Results) -> list[str]:
    rows, runs = results.rows, results.runs
    wall = rows["wall_seconds"].sum() if "wall_seconds" in rows.columns else math.nan
    fixed = [f"{c}={runs[c][0]}" for c in setting_columns(run_params(runs))
             if c in runs.columns and c not in results.settings and runs.height
             and runs[c].null_count() == 0]
    out = ["# satbench report: Fixed Parameter Expansion vs dense", "",
           f"- Results: {', '.join(f'`{s}`' for s in results.sources)}",
           f"- Stored: {rows.height} method runs in {rows['context_key'].n_unique()} training "
           f"contexts, {runs.height} design points (a context with one value of α, split and "
           f"output scale, called runs below); methods present: {', '.join(results.methods)}",
           f"- Grid: neurons {sorted(runs['neurons'].unique())}, clauses "
           f"{sorted(runs['clauses'].unique())}, α {sorted(runs['alpha'].drop_nulls().unique())}, "
           f"splits {', '.join(sorted(runs['split'].drop_nulls().unique()))}, seeds "
           f"{sorted(runs['seed'].unique())}",
           f"- Same in every run: {', '.join(fixed) if fixed else 'nothing beyond the grid'}"]
    if results.settings:
        out.append(f"- Varies between runs besides the grid (compared only within one value): "
                   f"{', '.join(results.settings)}")
    out.append("- Sweep manifests:")
    out += [f"  - {line}" for line in _manifests(results)]
    out += [f"- satbench version: {_counts(rows, 'satbench_version')}",
            f"- git commit: {_counts(rows, 'git_commit')}",
            f"- torch version: {_counts(rows, 'torch_version')}",
            f"- device: {_counts(rows, 'device')}",
            f"- Total wall time of stored runs: {wall / 60:.1f} min (sum of per-run "
            f"wall_seconds; fpe and dense_reset runs each include the shared warm-up)", ""]
    return out


def pooled_section(results: Results) -> list[str]:
    runs = paired(results.runs)
    out = ["## FPE gain over dense, pooled over cells", ""]
    if runs.is_empty():
        return out + ["No run holds both a dense and an FPE arm: nothing to compare.", ""]
    rows, cell_widths = [], []
    for (setting, alpha, split), frame in lines(runs):
        groups = groups_by_cell(frame, "gain")
        test = stats.pooled_test(groups)  # as in the conclusions: one computation, one number
        fixed, het = stats.cells_fixed(groups), stats.heterogeneity(groups)
        relative = stats.summarize(frame["rel_gain"])
        cell_widths += [stats.summarize(g).half_width for g in groups]
        rows.append([line_label(setting, alpha, split), len(groups), frame.height,
                     points(test.value), f"{ci_text(test)} ({test.model})", ci_text(fixed),
                     format_p(test.p), "n/a" if math.isnan(het.f)
                     else f"F {het.f:.3g}, p {format_p(het.p)}",
                     f"{100 * relative.mean:+.2f} ± {100 * relative.se:.2f}",
                     f"{int((frame['gain'] > 0).sum())} of {frame.height}"])
    out.append(table(["line", "cells", "runs", "mean gain (points)", "95% CI, deciding model",
                      "95% CI, cells fixed", "p (deciding)", "cells differ",
                      "relative gain ± SE (%)", "FPE ahead"], rows))
    widths = sorted(w for w in cell_widths if not math.isnan(w))
    seeds = sorted(runs.group_by("setting", "alpha", "split", "neurons", "clauses").len()["len"]
                   .unique())
    out += ["", "Gain = FPE minus dense test accuracy of the same run (same task, data order and "
                "warm-up), in percentage points; relative gain = fpe / dense − 1. The deciding "
                "model treats cells as random (a t over the cell means); cells fixed is the "
                "stratified t (pooled within-cell variance), which speaks for these cells only; "
                "cells differ: one-way ANOVA F test of the cells' mean gains."]
    if widths:
        count = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}"
        out += ["", f"**Noise.** With {count} seeds per cell, a single cell's "
                    f"95% CI on the gain is ±{100 * widths[len(widths) // 2]:.1f} points wide "
                    f"(median; range ±{100 * widths[0]:.1f} to ±{100 * widths[-1]:.1f}). "
                    f"Per-cell gains of a few percent are not reliable at this number of seeds; "
                    f"the pooled paired differences above are."]
    return out + [""]


def cell_section(results: Results) -> list[str]:
    runs = results.runs
    out = ["## Results per cell", "",
           "Test accuracy in %, mean ± 95% CI half-width (Student t over seeds, n − 1 df). "
           "wide_dense (α·h dense neurons, α times the weights) is the ceiling, majority the "
           "floor. Train accuracy shows overfitting. Gain: FPE minus dense in points, mean ± 95% "
           "t CI, with the paired t-test p-value (two-sided, equivalent to "
           "scipy.stats.ttest_rel).", ""]
    rows = []
    by = ("setting", "alpha", "split", "neurons", "clauses")
    for (setting, alpha, split, h, m), frame in lines(runs, by=by):
        def arm(method, metric="test_accuracy", frame=frame):
            name = col(method, metric)
            return percent_ci(stats.summarize(frame[name])) if name in frame.columns else "–"
        gain = stats.summarize(frame["gain"].drop_nulls())
        gain_text = "–" if gain.n == 0 else (
            f"{points(gain.mean)}" + ("" if math.isnan(gain.half_width)
                                      else f" ± {points(gain.half_width, False)}"))
        relative = frame["rel_gain"].drop_nulls()
        rows.append([line_label(setting, alpha, split), h, m, f"{m / h:g}", frame.height,
                     arm("dense"), arm("fpe"), arm("wide_dense"),
                     percent_ci(stats.summarize(frame["majority_accuracy"]))
                     if "majority_accuracy" in frame.columns else "–",
                     arm("dense", "train_accuracy"), arm("fpe", "train_accuracy"), gain_text,
                     f"{100 * relative.mean():+.1f}%" if len(relative) else "–",
                     format_p(gain.p)])
    out.append(table(["line", "h", "m", "m/h", "seeds", "dense", "fpe", "wide_dense",
                      "majority", "train dense", "train fpe", "gain (points)", "rel. gain",
                      "p"], rows))
    flags = []
    for method in ("dense", "fpe"):
        if col(method) in runs.columns:
            gap = (runs[col(method, "train_accuracy")] - runs[col(method)]).drop_nulls()
            big = int((gap > 0.03).sum())
            if big:
                flags.append(f"{method}: train exceeds test by more than 3 points in {big} of "
                             f"{len(gap)} runs (overfitting)")
    if col("dense") in runs.columns:
        capped = int((runs[col("dense")] > 0.99).sum())
        if capped:
            flags.append(f"dense is above 99% test accuracy in {capped} of {runs.height} runs, "
                         f"which leaves FPE no room to gain there")
    out += ["", *[f"- {f}" for f in flags]] if flags else []
    return out + [""]


def paper_cell_section(results: Results) -> list[str]:
    cell, paper = paper_numbers.HEADLINE_CELL, paper_numbers.HEADLINE_ACCURACY
    runs = results.runs.filter((pl.col("neurons") == cell["neurons"])
                               & (pl.col("clauses") == cell["clauses"])
                               & (pl.col("alpha") == cell["alpha"]))
    if runs.is_empty() or col("dense") not in runs.columns:
        return []
    out = ["## Against the paper's headline cell", "",
           f"Boolean DNF, {cell['clauses']} clauses, {cell['neurons']} neurons, α={cell['alpha']}"
           f" (the paper, second-hand: {paper_numbers.headline_text()}).", ""]
    settings = by_setting(runs["setting"].unique())
    # The paper's two splits, then satbench's per-parent clause split where the store has it.
    splits = ["random", "clause"] + [s for s in ("clause-weighted",)
                                     if "split" in runs.columns and s in runs["split"]]
    rows = [["dense", f"{100 * paper['dense']:.1f}"],
            *[[f"FPE, {split} split", f"{100 * paper[split]:.1f}" if split in paper else "-"]
              for split in splits]]
    for setting in settings:
        here = runs.filter(pl.col("setting") == setting)
        # One dense model per seed (the splits' runs share it), in a fixed order so the mean's
        # last bit never depends on a hash order.
        dense = here.unique(["seed"], keep="first", maintain_order=True)
        rows[0].append(percent_ci(stats.summarize(dense[col("dense")].drop_nulls())))
        for row, split in zip(rows[1:], splits, strict=True):
            fpe = here.filter(pl.col("split") == split)
            row.append(percent_ci(stats.summarize(fpe[col("fpe")].drop_nulls()))
                       if col("fpe") in fpe.columns and fpe.height else "not in store")
    headers = (["this store (%, mean ± 95% t CI)"] if len(settings) == 1
               else [f"{setting} (%, mean ± 95% t CI)" for setting in settings])
    out.append(table(["arm", "paper (%)", *headers], rows))
    return out + ["", "The task sizes, schedule and data differ from the paper's; compare the "
                      "ordering, not the numbers.", ""]


def interference_section(results: Results) -> list[str]:
    runs = paired(results.runs)
    metrics = [("mean_abs_cos", "mean abs cos (all pairs)"),
               ("mean_abs_cos_shared_inputs", "mean abs cos (input-sharing pairs)"),
               ("capacity_total", "total capacity")]
    metrics = [(m, name) for m, name in metrics if col("dense", m) in runs.columns]
    if runs.is_empty() or not metrics:
        return []
    rows = []
    for (setting, alpha, split), frame in lines(runs):
        row = [line_label(setting, alpha, split), frame.height]
        for metric, _ in metrics:
            dense, fpe = frame[col("dense", metric)].mean(), frame[col("fpe", metric)].mean()
            fell = int((arm_difference(frame, "fpe", "dense", metric)["diff"] < 0).sum())
            row.append(f"{dense:.3f} → {fpe:.3f} (fell in {fell})")
        rows.append(row)
    return ["## Interference", "",
            "Mean over runs, dense → FPE, and in how many runs the measure fell. Siblings of one "
            "parent have disjoint inputs, so their cosine is 0 by construction: a lower all-pairs "
            "figure is not proof of less interference; the input-sharing pairs are the fairer "
            "measure.", "",
            table(["line", "runs", *[name for _, name in metrics]], rows), ""]


def conclusion_section(conclusions: list[Conclusion]) -> list[str]:
    out = ["## Conclusions (computed from the stored results)", "",
           "Each claim names the model behind its 95% interval (docs/statistics.md). Pooled "
           "claims generalise over cells, so cells are random effects and decide the verdict "
           "(a t over the cell means; the cells-fixed, stratified interval is given beside it, "
           "with the cells' heterogeneity); a trend regresses the cell means on log2 of the grid "
           "value, so its interval holds the lack of fit. The claims the paper's findings select "
           "are one family, adjusted by Holm; the rest are exploratory, adjusted by "
           "Benjamini-Hochberg. **yes**: the adjusted p is below "
           f"{stats.ALPHA:g} with the effect on the side the claim names; **no**: on the other "
           "side; **inconclusive**: otherwise, with the range it cannot exclude (its interval at "
           "the family's Bonferroni level, which the adjusted verdicts respect). "
           "\"At least as good as\" is a non-inferiority test against a margin of "
           f"{100 * stats.MARGIN:.1f} points; an undecided claim's TOST p says whether the "
           "effect is within that margin of 0. Effects are in points of test accuracy.", ""]
    if not conclusions:
        return out + ["No comparison could be computed from these results.", ""]
    topic = None
    for c in conclusions:
        if c.topic != topic:
            topic = c.topic
            out += ["", f"**{topic}**", ""]
        out.append(f"- **{c.verdict}**: {c.claim}. {c.evidence}{decision_text(c)}.")
    return out + [""]


def decision_text(c: Conclusion) -> str:
    """The raw and adjusted p of a decided claim, and what an undecided one cannot exclude."""
    if c.test is None:
        return ""
    family = {"primary": "Holm, primary", "exploratory": "BH, exploratory"}.get(c.family)
    adjusted = f", adjusted p = {format_p(c.p_adjusted)} ({family})" if family else ""
    text = f"; p = {format_p(c.test.p)}{adjusted}"
    # Interference measures are not accuracy: neither points nor the accuracy margin apply.
    if c.verdict == "inconclusive" and not math.isnan(c.test.low) and c.topic != "interference":
        low, high = stats.simultaneous_interval(c.test, c.family_size)
        text += (f"; cannot exclude {points(low)} to {points(high)} (its "
                 f"{100 * (1 - stats.ALPHA / c.family_size):.4g}% interval: Bonferroni over "
                 f"the {c.family_size} claims of its family)" if c.family_size > 1
                 else f"; cannot exclude {points(low)} to {points(high)}")
        if not math.isnan(c.test.equivalence_p):
            text += (f"; within ±{100 * stats.MARGIN:.1f} points of 0: TOST p = "
                     f"{format_p(c.test.equivalence_p)}")
    return text


def figure_section(title: str, name: str, caption: str | None, missing: str) -> list[str]:
    if caption is None:
        return [f"### {title}", "", f"No figure: {missing}.", ""]
    return [f"### {title}", "", f"![{title}]({name})", "", f"*{caption}*", ""]


def statistics_section() -> list[str]:
    return ["## Methods", "",
            "- Pairing: every FPE-vs-dense number is a difference between the fpe and dense runs "
            "of one training context (same context key: same cell, seed, task, data and "
            "schedule), at one α and split. Comparisons "
            "across runs (α, split, output scale) pair runs that agree on everything else.",
            "- Per-cell means: Student t 95% intervals over seeds. p-values: two-sided paired "
            "t-tests on the differences (scipy.stats.ttest_rel; t quantiles from "
            "scipy.stats.t).",
            "- Pooled claims (docs/statistics.md): cells random, a t over the cell means, "
            "decides; cells fixed (the stratified t, pooled within-cell variance) and a one-way "
            "ANOVA F test of the cells' heterogeneity are shown beside it.",
            "- Trends: least-squares slope of the cell means on log2(x), in points per "
            "doubling, with its classical t interval (k − 2 df: the lack of fit); two cells: "
            "Welch t for those cells.",
            "- Multiplicity: the paper's findings are one family (Holm), the other claims "
            "another (Benjamini-Hochberg); verdicts use the adjusted p. Equivalence (TOST) and "
            f"non-inferiority use a margin of {100 * stats.MARGIN:.1f} points.",
            "- Interference fits: least squares of the gain on the change in a measure over runs, "
            "classical slope t interval.", ""]


def render(results: Results, directory: Path) -> tuple[str, list[str]]:
    """Draw every figure into `directory` and return (markdown, figure file names)."""
    made = []

    def draw(function, name, *args):
        caption = function(results, *args, directory / name)
        if caption is not None:
            made.append(name)
        return caption

    body = header(results)
    if results.notes:
        body += ["## Notes", "", *[f"- {n}" for n in results.notes], ""]
    conclusions = report_conclusions(results)  # computed once, cited in both sections
    body += conclusion_section(conclusions)
    body += against_paper_section(results, conclusions)
    body += pooled_section(results) + pooled_method_section(results)
    body += budget_section(results) + collision_section(results)
    body += ["## Figures", ""]
    settings = by_setting(results.runs["setting"].unique())
    for k, setting in enumerate(settings):
        name = "heatmap_relative_gain.png" if k == 0 else f"heatmap_relative_gain_{k + 1}.png"
        title = "Relative gain over the grid" + (f" ({setting})" if setting else "")
        body += figure_section(title, name, draw(figures.heatmap, name, setting),
                               "no run holds both a dense and an FPE arm")
    body += figure_section("Gain along the paper's two lines", "trends.png",
                           draw(figures.trends, "trends.png"),
                           "no line through the grid has two or more points")
    body += figure_section("Interference vs gain", "interference.png",
                           draw(figures.interference, "interference.png"),
                           "no run holds dense and FPE interference measures")
    body += figure_section("Gram matrices at the highest pressure", "gram.png",
                           draw(figures.gram, "gram.png"),
                           "no run holds Gram matrices for both dense and FPE")
    if "macs_per_example" in results.rows.columns:
        body += figure_section("Accuracy against cost (Pareto)", "pareto.png",
                               draw(pareto, "pareto.png"),
                               "no method run is paired with a dense run that records its costs")
    if "bimt" in results.methods:
        body += figure_section("BIMT's connection graph", "bimt_graph.png",
                               draw(bimt_graph, "bimt_graph.png"),
                               "no bimt run of training seed 0 stored its graph")
    if not collision_runs(results).is_empty():
        body += figure_section("Clause collisions against α", "collisions.png",
                               draw(collision_figure, "collisions.png"),
                               "no FPE run stored its clause collisions")
    body += cell_section(results) + per_clause_section(results) + paper_cell_section(results)
    body += interference_section(results) + structure_section(results)
    body += comparison_section(results) + statistics_section()
    return "\n".join(body), made


def write_report(results_dir, out_dir, replaced: dict[str, dict] | None = None) -> Path:
    """Read the store(s) at results_dir, write report.md and figures into out_dir; return the
    report's path. Raises SatbenchError if the store holds no valid rows. replaced: rows to read
    in place of stored ones, by run key (satbench.reports.aggregate.load)."""
    results = load(results_dir, replaced)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".report-", dir=out_dir))
    try:
        markdown, made = render(results, staging)
        (staging / "report.md").write_text(markdown + "\n", encoding="utf-8")
        for name in [*made, "report.md"]:  # the report last: it names the figures
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir / "report.md"

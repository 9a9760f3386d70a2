"""Conclusions computed from stored results: each claim gets yes, no or inconclusive from a test.

Each claim names the question it answers and the model that answers it (docs/statistics.md):
a pooled claim generalises over cells, so cells are random effects (a t over the cell means),
with the cells-fixed (stratified) interval and the cells' heterogeneity beside it; a trend
regresses the cell means on log2 of the grid value, so its residual is the lack of fit. Claims
are decided on family-adjusted p-values (satbench.reports.against_paper.report_conclusions):
yes when the adjusted p rejects the null with the effect on the claimed side, no when on the
other side, inconclusive otherwise, and then the evidence says what it cannot exclude. A trend
along fewer than two grid points cannot be computed and says so. Accuracy effects are in points
(percentage points of test accuracy).
"""

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from satbench.reports import stats
from satbench.reports.aggregate import (
    Results,
    across_runs,
    arm_difference,
    col,
    groups_by_cell,
    paired,
)

PAPER_FIXED = 8  # the paper's lines: gain vs clauses at 8 neurons, gain vs neurons at 8 clauses
TRENDS = (  # (varying, fixed, claimed direction, claim)
    ("clauses", "neurons", +1, "the gain grows with clauses"),
    ("neurons", "clauses", -1, "the gain falls as neurons are added"),
)


@dataclass(frozen=True)
class Conclusion:
    """A claim with its verdict and evidence. test decides it (None: nothing computable); until
    satbench.reports.against_paper.adjust puts it in a family, its verdict is on the raw p."""

    topic: str
    claim: str
    verdict: str  # yes | no | inconclusive | cannot compute
    evidence: str
    test: stats.Test | None = None
    direction: int = 1
    setting: str = ""  # the line's setting, to place the claim in a regime
    family: str = ""  # primary | exploratory, once adjusted
    p_adjusted: float = math.nan
    family_size: int = 1  # the claims adjusted together


def decided(topic: str, claim: str, test: stats.Test | None, evidence: str, direction: int = 1,
            setting: str = "") -> Conclusion:
    """A Conclusion whose verdict its own raw p decides (a family of one, until adjusted)."""
    p = test.p if test is not None else math.nan
    return Conclusion(topic, claim, stats.decide(test, p, direction), evidence, test, direction,
                      setting)


def points(value: float, signed: bool = True) -> str:
    """A fraction of accuracy as percentage points."""
    if value is None or math.isnan(value):
        return "n/a"
    return f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}"


def ci_points(low: float, high: float) -> str:
    return f"[{points(low)}, {points(high)}]"


def line_label(setting: str, alpha, split) -> str:
    label = f"α={alpha}, {split} split"
    return f"{label}, {setting}" if setting else label


def lines(frame: pl.DataFrame, by=("setting", "alpha", "split")):
    """(setting, alpha, split) -> sub-frame, in sorted order."""
    if frame.is_empty():
        return []
    return [(tuple(k), f) for k, f in frame.sort(*by).group_by(*by, maintain_order=True)]


def ci_text(test: stats.Test, scale=points) -> str:
    return f"{scale(test.low)} to {scale(test.high)}"


def test_text(test: stats.Test, scale=points) -> str:
    """An interval with the model that gives it, e.g. "95% CI +0.1 to +0.9 (cells random: ...)"."""
    return f"95% CI {ci_text(test, scale)} ({test.model})"


def heterogeneity_text(het: stats.Heterogeneity, scale=points) -> str:
    if math.isnan(het.f):
        return "cell heterogeneity n/a"
    return (f"cells differ: F = {het.f:.3g}, {p_text(het.p)}, between-cell SD "
            f"{scale(het.between_sd).lstrip('+')}")


def pooled(groups, null: float = 0.0, scale=points, unit: str = " points") -> tuple[stats.Test,
                                                                                   str]:
    """The deciding test of a pooled comparison and its evidence: the estimate under the deciding
    model, then the cells-fixed interval and the heterogeneity (both absent for one cell).

    Every section that prints a pooled comparison calls this on groups_by_cell's canonical
    groups, so one comparison reads the same wherever it is cited."""
    test = stats.pooled_test(groups, null)
    text = f"{scale(test.value)}{unit}, {test_text(test, scale)}"
    if sum(1 for g in groups if len(g)) > 1:
        text += (f"; {test_text(stats.cells_fixed(groups, null), scale)}; "
                 f"{heterogeneity_text(stats.heterogeneity(groups), scale)}")
    return test, text


def _positive(groups) -> str:
    values = [v for g in groups for v in g]
    return f"positive in {sum(v > 0 for v in values)} of {len(values)} pairs"


def format_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def p_text(p: float) -> str:
    text = format_p(p)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


def _compare(topic: str, claim: str, frame: pl.DataFrame, what: str, direction: int = 1,
             extra: str = "", setting: str = "", margin: float | None = None) -> Conclusion:
    """A pooled claim on frame's diff. margin: a non-inferiority claim ("at least as good as")
    tested against -margin on the claimed side, instead of a superiority claim against 0."""
    groups = groups_by_cell(frame)
    null = 0.0 if margin is None else -direction * margin
    test, text = pooled(groups, null)
    question = "" if margin is None else (f"non-inferiority: worse by {points(margin, False)} "
                                          f"points or more is excluded when yes; ")
    evidence = f"{question}{what} {text}; {_positive(groups)}{extra}"
    return decided(topic, claim, test, evidence, direction, setting)


def pooled_gain(results: Results) -> list[Conclusion]:
    out = []
    for (setting, alpha, split), frame in lines(paired(results.runs)):
        relative = frame["rel_gain"].mean()
        cells = frame.select("neurons", "clauses").n_unique()
        out.append(_compare(
            "FPE vs dense", f"FPE beats dense, pooled over {cells} cells "
            f"({line_label(setting, alpha, split)})",
            frame.rename({"gain": "diff"}), "mean gain",
            extra=f"; relative gain {100 * relative:+.2f}%", setting=setting))
    return out


def choose_fixed(runs: pl.DataFrame, vary: str, fixed: str, preferred: int = PAPER_FIXED):
    """The fixed value for a trend: `preferred` if some line has >= 2 points there, else the
    value with the most distinct points (or None if no value gives a trend)."""
    runs = paired(runs)
    if runs.is_empty():
        return None
    counts = (runs.group_by(fixed, "setting", "alpha", "split").agg(pl.col(vary).n_unique())
              .group_by(fixed).agg(pl.col(vary).max()).sort(fixed))
    best = dict(zip(counts[fixed], counts[vary], strict=True))
    if best.get(preferred, 0) >= 2:
        return preferred
    candidates = [v for v, n in best.items() if n >= 2]
    return max(candidates, key=lambda v: (best[v], -abs(v - preferred))) if candidates else None


def trend_groups(frame: pl.DataFrame, vary: str, value: str = "gain"):
    """(x values, per-x samples) along one line."""
    grouped = frame.group_by(vary).agg(pl.col(value)).sort(vary)
    return list(grouped[vary]), [list(v) for v in grouped[value]]


def trends(results: Results) -> list[Conclusion]:
    out = []
    runs = paired(results.runs)
    for vary, fixed, direction, claim in TRENDS:
        topic = f"gain vs {vary}"
        at_paper = runs.filter(pl.col(fixed) == PAPER_FIXED)
        chosen = choose_fixed(runs, vary, fixed)
        if at_paper.is_empty():
            present = sorted(runs[fixed].unique()) if not runs.is_empty() else []
            out.append(Conclusion(topic, f"At {PAPER_FIXED} {fixed} {claim}", "cannot compute",
                                  f"no runs at {fixed} = {PAPER_FIXED} (grid has {fixed} "
                                  f"{present})"))
        for value in dict.fromkeys([PAPER_FIXED] + ([chosen] if chosen is not None else [])):
            for (setting, alpha, split), frame in lines(runs.filter(pl.col(fixed) == value)):
                xs, groups = trend_groups(frame, vary)
                label = f"At {value} {fixed} {claim} ({line_label(setting, alpha, split)})"
                slope = stats.trend_test(np.log2(xs), groups)
                if slope is None:
                    out.append(Conclusion(topic, label, "cannot compute",
                                          f"only {vary} = {xs} at {fixed} = {value}: a trend "
                                          f"needs at least two", setting=setting))
                    continue
                means = ", ".join(f"{x}: {points(np.mean(g))}" for x, g in
                                  zip(xs, groups, strict=True))
                out.append(decided(topic, label, slope,
                                   f"slope {points(slope.value)} points per doubling of "
                                   f"{vary}, {test_text(slope)}; mean gain by {vary}: {means}",
                                   direction, setting))
    return out


def alphas(results: Results) -> list[Conclusion]:
    runs = paired(results.runs)
    values = sorted(runs["alpha"].unique()) if not runs.is_empty() else []
    out = []
    for higher in values[1:]:
        pairs = across_runs(runs, "alpha", higher, values[0], "gain", keep=("setting",))
        for (setting, split), frame in lines(pairs, by=("setting", "split")):
            out.append(_compare(
                "expansion factor", f"Gains grow from α={values[0]} to α={higher} "
                f"({split} split{', ' + setting if setting else ''})", frame,
                f"gain at α={higher} minus gain at α={values[0]}:", setting=setting))
    return out


def splits(results: Results) -> list[Conclusion]:
    out = []
    runs = results.runs.filter(pl.col(col("fpe")).is_not_null()) \
        if col("fpe") in results.runs.columns else results.runs.clear()
    comparisons = (("clause", "random", "clause split vs random split",
                    "The clause split beats the random split"),
                   ("random", "random-shared", "per-parent vs shared split",
                    "A per-parent random split beats one random split shared by all parents"),
                   ("clause", "clause-shared", "per-parent vs shared split",
                    "A per-parent clause split beats a shared clause split"))
    present = set(runs["split"].unique()) if not runs.is_empty() else set()
    for a, b, topic, claim in comparisons:
        if not {a, b} <= present:
            continue
        pairs = across_runs(runs, "split", a, b, col("fpe"), keep=("setting",))
        recovered = {}  # each split's own gain over dense, for context
        if "gain" in runs.columns:
            gains = across_runs(paired(runs), "split", a, b, "gain", keep=("setting",))
            for key, frame in lines(gains, by=("setting", "alpha")):
                gain_a, gain_b = frame["a"].mean(), frame["b"].mean()
                share = (f" ({100 * gain_b / gain_a:.0f}% of it)" if gain_a > 0 and gain_b > 0
                         else "")
                recovered[key] = (f"; mean gain over dense: {a} {points(gain_a)}, {b} "
                                  f"{points(gain_b)} points{share}")
        for (setting, alpha), frame in lines(pairs, by=("setting", "alpha")):
            where = f"α={alpha}, {setting}" if setting else f"α={alpha}"
            out.append(_compare(topic, f"{claim} ({where})", frame,
                                f"FPE test accuracy, {a} minus {b}:",
                                extra=recovered.get((setting, alpha), ""), setting=setting))
    return out


def output_scales(results: Results) -> list[Conclusion]:
    runs = results.runs
    if "output_scale" not in runs.columns or col("fpe") not in runs.columns:
        return []
    if not {"copy", "divide"} <= set(runs["output_scale"].unique()):
        return []
    pairs = across_runs(runs, "output_scale", "divide", "copy", col("fpe"))
    return [_compare("copy vs divide", f"Dividing W2 by α beats copying it "
                                       f"(α={alpha}, {split} split)",
                     frame, "FPE test accuracy, divide minus copy:")
            for (alpha, split), frame in lines(pairs, by=("alpha", "split"))]


def arms(results: Results) -> list[Conclusion]:
    out = []
    for other, claim in (("sparse_scratch", "FPE beats sparse_scratch (FPE's final masks "
                                            "trained from scratch)"),
                         ("dense_reset", "FPE beats dense_reset (the warm dense model with a "
                                         "fresh optimizer)"),
                         ("wide_dense", "FPE stays below the wide_dense ceiling (α·h dense "
                                        "neurons)"),
                         ("fpe_overlap", "FPE's disjoint children beat overlapping children "
                                         "at the same count"),
                         ("dropconnect", "FPE is at least as good as DropConnect at the same "
                                         "budget")):
        # "At least as good as" is non-inferiority, not superiority: tested against the margin.
        margin = stats.MARGIN if other == "dropconnect" else None
        if other not in results.methods or "fpe" not in results.methods:
            continue
        diffs = arm_difference(results.runs, "fpe", other)
        for (setting, alpha, split), frame in lines(diffs):
            label = f"{claim} ({line_label(setting, alpha, split)})"
            out.append(_compare(f"FPE vs {other}", label, frame, f"FPE minus {other}:",
                                direction=-1 if other == "wide_dense" else 1, setting=setting,
                                margin=margin))
    return out


def _signed(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:+.4f}"


MEASURES = (  # (metric, name, direction of the claim)
    ("mean_abs_cos", "mean |cos| between neuron weight vectors (all pairs)", -1),
    ("mean_abs_cos_shared_inputs", "mean |cos| over neuron pairs that share inputs", -1),
    ("capacity_total", "total feature capacity", +1),
)


def interference(results: Results) -> list[Conclusion]:
    """Per line: does each interference measure move after FPE, and does Δcapacity track gain."""
    out = []
    for metric, name, direction in MEASURES:
        deltas = arm_difference(paired(results.runs), "fpe", "dense", metric)
        for (setting, alpha, split), frame in lines(deltas):
            test, text = pooled(groups_by_cell(frame), scale=_signed, unit="")
            moved = int((frame["diff"] * direction > 0).sum())
            verb, past = ("falls", "fell") if direction < 0 else ("rises", "rose")
            where = line_label(setting, alpha, split)
            out.append(decided(
                "interference", f"The {name} {verb} after FPE ({where})", test,
                f"Δ (fpe − dense) {text}; it {past} in {moved} of {len(frame)} runs",
                direction, setting))
            if metric != "capacity_total":
                continue
            fit = stats.least_squares(frame["diff"], frame["gain"])
            if fit is None:
                out.append(Conclusion("interference", "A larger rise in capacity goes with a "
                                      f"larger gain ({line_label(setting, alpha, split)})",
                                      "cannot compute", "fewer than 3 runs or no spread in Δ",
                                      setting=setting))
                continue
            # Runs, not cells, are the unit here: the question is whether runs with a larger
            # rise gain more, and the model says so.
            test = stats.fit_test(fit, f"runs independent: least squares over {fit.n} runs")
            out.append(decided(
                "interference", "A larger rise in capacity goes with a larger gain "
                f"({line_label(setting, alpha, split)})", test,
                f"least squares: gain = {100 * fit.slope:+.3g} points per unit Δcapacity, "
                f"{test_text(test, lambda v: f'{100 * v:+.3g}')}; R² = {fit.r2:.2f}",
                +1, setting))
    return out


def all_conclusions(results: Results) -> list[Conclusion]:
    return (pooled_gain(results) + trends(results) + alphas(results) + splits(results)
            + output_scales(results) + arms(results) + interference(results))

"""FPE's gain against the training schedule: the budget (T1 + T2) and the split's timing (T1's
share of a fixed T1 + T2).

Runs at different schedules are different training contexts of one task and seed, so they pair
on (cell, seed, alpha, split) and every other setting. For each line (alpha, split and the rest of
the setting) the budget table gives the pooled paired gain at each budget, the dense and FPE
accuracies and the share of models whose training loss had stopped falling (`converged`), and a
verdict on the gain as the budget grows:
- survives: the gain at the largest budget is positive (its test rejects 0 on the positive side)
  and not smaller than at the smallest by the margin or more (non-inferiority of the change,
  stats.MARGIN): "not significantly smaller" would only be absence of evidence;
- shrinks: still positive at the largest budget, but significantly smaller than at the smallest;
- may shrink: still positive at the largest budget; the change excludes neither 0 nor the margin;
- vanishes: positive at the smallest budget and not at the largest;
- not shown: positive at neither the smallest nor the largest budget (a budget between may
  still show one: see the table).
"""

import polars as pl

from satbench.reports import stats
from satbench.reports.aggregate import Results, col, groups_by_cell, paired, setting_label
from satbench.reports.conclusions import (
    Conclusion,
    decided,
    format_p,
    line_label,
    points,
    pooled,
    test_text,
)
from satbench.reports.tables import markdown_table, percent_ci

STEPS = ("warmup_steps", "expanded_steps")
PAIR_ON = ("neurons", "clauses", "seed", "alpha", "split", "base")


def schedule_runs(results: Results) -> pl.DataFrame:
    """The paired runs with their total steps, T1 share and `base`: the setting without the
    schedule."""
    runs = paired(results.runs)
    if runs.is_empty() or not set(STEPS) <= set(runs.columns):
        return runs.clear()
    base = setting_label([s for s in results.settings if s not in STEPS])
    total = pl.col("warmup_steps") + pl.col("expanded_steps")
    return runs.with_columns(base.alias("base"), total.alias("total_steps"),
                             (pl.col("warmup_steps") / total).alias("warmup_share"))


def _paired_change(frame: pl.DataFrame, by: str, low, high) -> pl.DataFrame:
    """gain at by=high minus gain at by=low, run by run."""
    a = frame.filter(pl.col(by) == high).select(*PAIR_ON, pl.col("gain").alias("a"))
    b = frame.filter(pl.col(by) == low).select(*PAIR_ON, pl.col("gain").alias("b"))
    pairs = a.join(b, on=list(PAIR_ON), how="inner", nulls_equal=True)
    return pairs.with_columns((pl.col("a") - pl.col("b")).alias("diff"))


def budget_verdict(at_low: stats.Test, at_high: stats.Test, change: stats.Test) -> str:
    """A description of each line at the raw 5% level; the claim it backs (budget_conclusions)
    is decided with the rest, on its adjusted p."""
    if stats.decide(at_high, at_high.p) == "yes":
        if stats.decide(change, change.p, -1) == "yes":
            return "shrinks"
        kept = stats.non_inferiority(change)
        return "survives" if stats.decide(kept, kept.p) == "yes" else "may shrink"
    return "vanishes" if stats.decide(at_low, at_low.p) == "yes" else "not shown"


def _gain_test(frame: pl.DataFrame, value: str = "gain") -> tuple[stats.Test, str]:
    return pooled(groups_by_cell(frame, value))


def budget_lines(results: Results):
    """(base, alpha, split, budgets, {budget: frame}, verdict, change estimate) per line whose
    runs span two or more budgets at one T1 share."""
    runs = schedule_runs(results)
    out = []
    if runs.is_empty() or runs["total_steps"].n_unique() < 2:
        return out
    for (base, alpha, split, _), frame in runs.sort("base", "alpha", "split").group_by(
            "base", "alpha", "split", "warmup_share", maintain_order=True):
        budgets = sorted(frame["total_steps"].unique())
        if len(budgets) < 2:
            continue
        by_budget = {b: frame.filter(pl.col("total_steps") == b) for b in budgets}
        low, high = _gain_test(by_budget[budgets[0]])[0], _gain_test(by_budget[budgets[-1]])[0]
        change = _gain_test(_paired_change(frame, "total_steps", budgets[0], budgets[-1]),
                            "diff")[0]
        out.append((base, alpha, split, budgets, by_budget, budget_verdict(low, high, change),
                    change))
    return out


def _share(frame: pl.DataFrame, method: str) -> str:
    name = col(method, "converged")
    if name not in frame.columns or frame[name].drop_nulls().is_empty():
        return "–"
    values = frame[name].drop_nulls()
    return f"{int(values.sum())}/{len(values)}"


def budget_section(results: Results) -> list[str]:
    found = budget_lines(results)
    if not found:
        return []
    rows, verdicts = [], []
    for base, alpha, split, budgets, by_budget, verdict, change in found:
        label = line_label(base, alpha, split)
        for budget in budgets:
            frame = by_budget[budget]
            gain = stats.summarize(frame["gain"])
            rows.append([label, budget, frame.height,
                         percent_ci(stats.summarize(frame[col("dense")])),
                         percent_ci(stats.summarize(frame[col("fpe")])),
                         f"{points(gain.mean)} ± {points(gain.half_width, False)}",
                         format_p(gain.p), _share(frame, "dense"), _share(frame, "fpe")])
        verdicts.append(f"- **{verdict}** ({label}): gain at {budgets[-1]} steps minus gain at "
                        f"{budgets[0]}: {points(change.value)} points, {test_text(change)}; "
                        f"dense converged in {_share(by_budget[budgets[-1]], 'dense')} runs at "
                        f"{budgets[-1]} steps")
    return ["## FPE's gain against the training budget", "",
            "The same task, data and seeds at each budget (T1 + T2 steps, T1's share "
            "fixed). Accuracies in %, mean ± 95% t half-width; gain in points, paired within "
            "each context, with its paired t-test p. converged: models whose training loss fell "
            "by under 1% over their last tenth of steps. Verdict (see satbench.reports.schedule): "
            "survives, shrinks, may shrink, vanishes or not shown as the budget grows, at the "
            "raw 5% level (the claims above are decided on adjusted p).", "",
            markdown_table(["line", "steps (T1+T2)", "runs", "dense", "fpe", "gain (points)",
                            "p", "dense converged", "fpe converged"], rows),
            "", *verdicts, ""]


def timing_conclusions(results: Results) -> list[Conclusion]:
    """Does splitting earlier help more? The slope of the gain on T1's share of a fixed total."""
    runs = schedule_runs(results)
    out = []
    if runs.is_empty():
        return out
    for (base, alpha, split, total), frame in runs.sort("base", "alpha", "split").group_by(
            "base", "alpha", "split", "total_steps", maintain_order=True):
        if frame["warmup_share"].n_unique() < 3:
            continue
        fit = stats.least_squares(frame["warmup_share"], frame["gain"])
        if fit is None:
            continue
        test = stats.fit_test(fit, f"runs independent: least squares over {fit.n} runs")
        out.append(decided(
            "split timing", f"Splitting earlier helps more ({line_label(base, alpha, split)}, "
            f"{total} steps in all)", test,
            f"slope of the gain on T1's share of the steps: {points(fit.slope)} points per unit "
            f"share, {test_text(test)}; R^2 = {fit.r2:.2f}", -1, base))
    return out


def budget_conclusions(results: Results) -> list[Conclusion]:
    """The gain still positive at the largest budget, per line (yes/no/inconclusive)."""
    out = []
    for base, alpha, split, budgets, by_budget, verdict, _ in budget_lines(results):
        test, text = _gain_test(by_budget[budgets[-1]])
        out.append(decided(
            "training budget", f"FPE still beats dense at {budgets[-1]} steps, "
            f"{budgets[-1] // budgets[0]}x the smallest budget "
            f"({line_label(base, alpha, split)})", test,
            f"gain {text}; the gain {verdict} from {budgets[0]} steps", +1, base))
    return out

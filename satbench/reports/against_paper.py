"""Against the paper: each of the FPE paper's findings beside what this store measured.

The paper's findings are second-hand (docs/paper-protocol.md: summaries and reviews; its tables
were not available). For each finding the table gives, per regime (each setting of the store,
e.g. the `paper` preset's read-once tasks and the `tuned-shared` preset's), the verdict of the
report's own conclusion (computed once, for the whole store) and its headline number. The claims
these findings select are the report's primary family, adjusted by Holm; every other claim is
exploratory, adjusted by Benjamini-Hochberg (docs/statistics.md). A finding the store holds no
runs for says so.
"""

import dataclasses

import polars as pl

from satbench import paper as paper_numbers
from satbench.reports import stats
from satbench.reports.aggregate import Results, col, setting_label
from satbench.reports.conclusions import Conclusion, all_conclusions, format_p
from satbench.reports.schedule import STEPS, budget_conclusions, timing_conclusions
from satbench.reports.tables import markdown_table, percent_ci

# (the paper's finding, the conclusion topic, what its claim names: every string must appear)
FINDINGS = (
    ("FPE beats dense at a fixed budget (clause split)", "FPE vs dense", "α=2, clause split"),
    ("FPE beats dense at a fixed budget (random split: random splits recover most of the gain)",
     "FPE vs dense", "α=2, random split"),
    ("Gains grow from α=2 to 4 (clause split)", "expansion factor", "clause split"),
    ("Gains grow from α=2 to 4 (random split)", "expansion factor", "random split"),
    ("At 8 neurons, gains rise with the clause count", "gain vs clauses", "α=2, clause split"),
    ("At 8 clauses, gains fall as neurons are added", "gain vs neurons", "α=2, clause split"),
    ("The clause split beats the random split", "clause split vs random split", "α=2"),
    ("Mean |cos| between neurons falls after FPE", "interference",
     ("mean |cos| between neuron weight vectors (all pairs)", "α=2, clause split")),
    ("Feature capacity rises after FPE", "interference",
     ("total feature capacity", "α=2, clause split")),
    ("The rise in capacity predicts the gain", "interference",
     ("A larger rise in capacity", "α=2, clause split")),
    ("(open) What a shared split costs against a per-parent one", "per-parent vs shared split",
     "α=2"),
    ("(open) FPE beats FPE's masks trained from scratch (is it the split or the structure?)",
     "FPE vs sparse_scratch", "α=2, clause split"),
    ("Gains survive longer training", "training budget", "α=2, clause split"),
    ("Splitting earlier helps more", "split timing", "α=2, clause split"),
    ("Children with overlapping inputs do worse than disjoint ones", "FPE vs fpe_overlap",
     "α=2, clause split"),
    ("FPE is at least as good as DropConnect at the same budget", "FPE vs dropconnect",
     "α=2, clause split"),
)


def report_conclusions(results: Results) -> list[Conclusion]:
    """Every conclusion the report computes, decided on its family-adjusted p."""
    return adjust(all_conclusions(results) + budget_conclusions(results)
                  + timing_conclusions(results))


def is_primary(conclusion: Conclusion) -> bool:
    """A claim one of the paper's findings selects (in any regime)."""
    return any(_found([conclusion], topic, names) for _, topic, names in FINDINGS)


def adjust(conclusions: list[Conclusion]) -> list[Conclusion]:
    """Each decidable conclusion with its family, adjusted p and the verdict that p gives:
    primary claims as one family under Holm (family-wise error), exploratory ones as another
    under Benjamini-Hochberg (false discovery rate)."""
    out = list(conclusions)
    for family, method in (("primary", stats.holm), ("exploratory", stats.benjamini_hochberg)):
        members = [i for i, c in enumerate(out) if c.test is not None
                   and is_primary(c) == (family == "primary")]
        adjusted = method([out[i].test.p for i in members])
        for i, p in zip(members, adjusted, strict=True):
            c = out[i]
            out[i] = dataclasses.replace(c, family=family, p_adjusted=p,
                                         family_size=len(members),
                                         verdict=stats.decide(c.test, p, c.direction))
    return out


def _regimes(results: Results) -> list[str]:
    """The store's base settings (its settings without the schedule, so that the budgets of one
    task stay one regime), as setting labels."""
    base = setting_label([s for s in results.settings if s not in STEPS])
    return sorted(results.runs.select(base.alias("regime"))["regime"].unique())


def _in_regime(conclusion: Conclusion, regime: str) -> bool:
    """The conclusion's setting holds every name=value of the regime's."""
    return set(filter(None, regime.split(", "))) <= set(conclusion.setting.split(", "))


def _regime_results(results: Results, regime: str) -> Results:
    runs = results.runs.filter(
        setting_label([s for s in results.settings if s not in STEPS]) == regime)
    return Results(results.sources, results.rows, runs, results.settings, results.methods)


def _found(conclusions: list[Conclusion], topic: str, names) -> list[Conclusion]:
    names = (names,) if isinstance(names, str) else names
    return [c for c in conclusions if c.topic == topic and all(n in c.claim for n in names)]


def _cell(found: list[Conclusion]) -> str:
    if not found:
        return "not measured"
    return "<br>".join(f"**{c.verdict}**: {c.evidence.split(';')[0]}{_adjusted(c)}"
                       + (f" ({c.claim.split('(')[-1].rstrip(')')})" if len(found) > 1 else "")
                       for c in found)


def _adjusted(c: Conclusion) -> str:
    return f", Holm p {format_p(c.p_adjusted)}" if c.family == "primary" else ""


def headline_cell(part: Results) -> str:
    cell = paper_numbers.HEADLINE_CELL
    runs = part.runs.filter((pl.col("neurons") == cell["neurons"])
                            & (pl.col("clauses") == cell["clauses"])
                            & (pl.col("alpha") == cell["alpha"]))
    if runs.is_empty() or col("fpe") not in runs.columns:
        return "not measured"
    dense = runs.unique(["seed"], keep="first", maintain_order=True)[col("dense")]
    values = [f"dense {percent_ci(stats.summarize(dense.drop_nulls()))}"]
    for split in ("random", "clause"):
        fpe = runs.filter(pl.col("split") == split)[col("fpe")].drop_nulls()
        values.append(f"{split} {percent_ci(stats.summarize(fpe))}" if len(fpe) else
                      f"{split} not measured")
    return ", ".join(values)


def against_paper_section(results: Results, conclusions: list[Conclusion]) -> list[str]:
    """The findings beside `conclusions`, the report's own (report_conclusions), so that a claim
    reads the same here as in the conclusions."""
    if col("fpe") not in results.runs.columns or col("dense") not in results.runs.columns:
        return []
    regimes = _regimes(results)
    names = [f"regime {chr(ord('A') + i)}" for i in range(len(regimes))]
    computed = {r: [c for c in conclusions if _in_regime(c, r)] for r in regimes}
    rows = [[f"Headline cell (8 clauses, 8 neurons, α=2): {paper_numbers.headline_text()}",
             *[headline_cell(_regime_results(results, r)) for r in regimes]]]
    for finding, topic, label in FINDINGS:
        rows.append([finding, *[_cell(_found(computed[r], topic, label)) for r in regimes]])
    legend = [f"- {name}: {regime or 'the whole store'}"
              for name, regime in zip(names, regimes, strict=True)]
    return ["## Against the paper", "",
            "Each finding of the FPE paper (second-hand, see docs/paper-protocol.md) beside the "
            "verdict this store gives it, as in the conclusions above (these claims are the "
            "primary family: Holm-adjusted p), at α=2 unless the finding names α. "
            "The budget rows need runs at several budgets, the timing row several T1 shares of "
            "one total. Regimes:", "", *legend, "",
            markdown_table(["the paper's finding", *names], rows), "",
            "Headline accuracies are in %, mean ± 95% t half-width over seeds; effects in points "
            "of test accuracy.", ""]

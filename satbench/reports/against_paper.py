"""Against the paper: each of the FPE paper's findings beside what this store measured.

The paper's findings are second-hand (docs/paper-protocol.md: summaries and reviews; its tables
were not available). For each finding the table gives, per regime (each setting of the store,
e.g. the `paper` preset's read-once tasks and the `tuned-shared` preset's), the verdict computed
by the report's conclusions with the report's honest-verdict rule (yes or no only when both 95%
intervals agree) and its headline number. A finding the store holds no runs for says so.
"""

import polars as pl

from satbench.reports import stats
from satbench.reports.aggregate import Results, col, setting_label
from satbench.reports.conclusions import Conclusion, all_conclusions
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
    """Every conclusion the report computes."""
    return all_conclusions(results) + budget_conclusions(results) + timing_conclusions(results)


def _regimes(results: Results) -> dict[str, Results]:
    """The store by base setting (its setting without the schedule, so that the budgets of one
    task stay one regime); within a regime, runs are labelled by their schedule alone."""
    steps = [s for s in results.settings if s in STEPS]
    runs = results.runs.with_columns(
        setting_label([s for s in results.settings if s not in STEPS]).alias("regime"),
        setting_label(steps).alias("setting"))
    out = {}
    for regime in sorted(runs["regime"].unique()):
        part = runs.filter(pl.col("regime") == regime).drop("regime")
        keys = set(part["context_key"])
        out[regime] = Results(results.sources, results.rows.filter(
            pl.col("context_key").is_in(keys)), part, steps, results.methods)
    return out


def _found(conclusions: list[Conclusion], topic: str, names) -> list[Conclusion]:
    names = (names,) if isinstance(names, str) else names
    return [c for c in conclusions if c.topic == topic and all(n in c.claim for n in names)]


def _cell(found: list[Conclusion]) -> str:
    if not found:
        return "not measured"
    return "<br>".join(f"**{c.verdict}**: {c.evidence.split(';')[0]}"
                       + (f" ({c.claim.split('(')[-1].rstrip(')')})" if len(found) > 1 else "")
                       for c in found)


def headline_cell(part: Results) -> str:
    runs = part.runs.filter((pl.col("neurons") == 8) & (pl.col("clauses") == 8)
                            & (pl.col("alpha") == 2))
    if runs.is_empty() or col("fpe") not in runs.columns:
        return "not measured"
    dense = runs.unique(["seed"], keep="first", maintain_order=True)[col("dense")]
    values = [f"dense {percent_ci(stats.summarize(dense.drop_nulls()))}"]
    for split in ("random", "clause"):
        fpe = runs.filter(pl.col("split") == split)[col("fpe")].drop_nulls()
        values.append(f"{split} {percent_ci(stats.summarize(fpe))}" if len(fpe) else
                      f"{split} not measured")
    return ", ".join(values)


def against_paper_section(results: Results) -> list[str]:
    if col("fpe") not in results.runs.columns or col("dense") not in results.runs.columns:
        return []
    regimes = _regimes(results)
    names = [f"regime {chr(ord('A') + i)}" for i in range(len(regimes))]
    computed = {regime: report_conclusions(part) for regime, part in regimes.items()}
    rows = [["Headline cell (8 clauses, 8 neurons, α=2): dense 78.7%, random 88.7%, clause "
             "99.4%", *[headline_cell(part) for part in regimes.values()]]]
    for finding, topic, label in FINDINGS:
        rows.append([finding, *[_cell(_found(computed[r], topic, label)) for r in regimes]])
    legend = [f"- {name}: {regime or 'the whole store'}"
              for name, regime in zip(names, regimes, strict=True)]
    return ["## Against the paper", "",
            "Each finding of the FPE paper (second-hand, see docs/paper-protocol.md) beside the "
            "verdict this store gives it, with the same rule as the conclusions above (yes or no "
            "only when the bootstrap and t intervals agree), at α=2 unless the finding names α. "
            "The budget rows need runs at several budgets, the timing row several T1 shares of "
            "one total. Regimes:", "", *legend, "",
            markdown_table(["the paper's finding", *names], rows), "",
            "Headline accuracies are in %, mean ± 95% t half-width over seeds; effects in points "
            "of test accuracy.", ""]

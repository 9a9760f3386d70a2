"""One comparison, one set of numbers: every section that cites a pooled comparison prints what
the conclusions computed, and the order of the input rows changes no printed number."""

import numpy as np
from test_reports import make_store

from satbench.reports.against_paper import report_conclusions
from satbench.reports.aggregate import Results, load
from satbench.reports.conclusions import ci_text
from satbench.reports.render import render


def noisy_gain(h, m, alpha, split, s):
    """A gain that differs by cell and seed, so that intervals have width and bootstrap-free
    sums could still depend on order."""
    return 0.01 * np.log2(m) + 0.013 * ((h * 7 + m * 3 + s * 5) % 11 - 5) / 5


def _section(text: str, title: str) -> str:
    return text.split(title)[1].split("\n## ")[0]


def test_every_section_prints_the_conclusions_numbers_for_fpe_vs_dense(tmp_path):
    results = load(make_store(tmp_path / "store", noisy_gain))
    text, _ = render(results, tmp_path)
    [claim] = [c for c in report_conclusions(results) if c.topic == "FPE vs dense"]
    interval = ci_text(claim.test)
    sections = {title: _section(text, title) for title in (
        "## Conclusions", "## Against the paper", "## FPE gain over dense, pooled over cells",
        "## Every method against dense and the methods it names, pooled")}
    for title, section in sections.items():
        assert f"{interval} ({claim.test.model})" in section, title


def _shuffled(results: Results, seed: int) -> Results:
    return Results(results.sources, results.rows.sample(fraction=1.0, shuffle=True, seed=seed),
                   results.runs.sample(fraction=1.0, shuffle=True, seed=seed), results.settings,
                   results.methods, results.notes)


def test_the_order_of_the_rows_changes_no_printed_number(tmp_path):
    store = make_store(tmp_path / "store", noisy_gain, splits=("clause", "random"),
                       methods=("dense", "fpe", "wide_dense", "sparse_scratch"))
    results = load(store)
    text, _ = render(results, tmp_path)
    for seed in (1, 2):
        shuffled, _ = render(_shuffled(results, seed), tmp_path)
        assert shuffled == text

"""Reports: planted effects are found, null effects are not called, figures are written and named.

Every store here is synthetic (satbench.store.write_run), so nothing trains.
"""

import itertools
import math
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

from satbench.errors import SatbenchError
from satbench.reports import figures, stats
from satbench.reports.aggregate import load
from satbench.reports.conclusions import all_conclusions, pooled_gain, trends
from satbench.reports.render import write_report
from satbench.store import write_run

PAPER_CELLS = [(h, 8) for h in (2, 4, 8, 16)] + [(8, m) for m in (4, 16, 32)]


def make_store(directory, fpe_minus_dense, cells=PAPER_CELLS, alphas=(2,), splits=("clause",),
               seeds=5, methods=("dense", "fpe", "wide_dense"), output_scale="copy",
               seed=0):
    """One run file per (cell, alpha, split, seed); fpe = dense + fpe_minus_dense(...)."""
    rng = np.random.default_rng(seed)
    for (h, m), alpha, split, s in itertools.product(cells, alphas, splits, range(seeds)):
        dense = 0.7 + 0.2 * rng.random()
        accuracy = {"dense": dense, "fpe": dense + fpe_minus_dense(h, m, alpha, split, s),
                    "wide_dense": min(1.0, dense + 0.08), "sparse_scratch": dense + 0.01,
                    "dense_reset": dense}
        key = f"{output_scale}-{h}-{m}-{alpha}-{split}-{s}"
        rows = []
        for method in methods:
            width = h if method in ("dense", "dense_reset") else alpha * h
            rows.append({
                "run_key": key, "method": method, "neurons": h, "clauses": m, "alpha": alpha,
                "split": split, "seed": s, "output_scale": output_scale, "vars": 4,
                "width_hidden": width, "test_accuracy": accuracy[method],
                "train_accuracy": accuracy[method] + 0.01, "majority_accuracy": 0.5,
                "nnz_weights": 10, "mean_abs_cos": 0.2 - 0.05 * (method == "fpe"),
                "mean_abs_cos_shared_inputs": 0.2 + 0.01 * rng.standard_normal(),
                "capacity_total": 2.0 + (method == "fpe") + 0.1 * rng.standard_normal(),
                "gram": rng.standard_normal(16).tolist(), "wall_seconds": 1.0,
                "satbench_version": "0.1.0", "git_commit": "abc", "torch_version": "2.x",
                "device": "cpu"})
        write_run(directory, key, rows, {"key": key})
    return directory


def planted(*_):
    return 0.05


def symmetric_noise(h, m, alpha, split, s):
    """Zero-mean in every cell by construction: +e, -e, +2e, -2e, 0 over five seeds."""
    return 0.02 * (1, -1, 2, -2, 0)[s % 5]


def test_a_planted_gain_is_measured_exactly_and_called(tmp_path):
    results = load(make_store(tmp_path, planted))
    assert results.runs["gain"].to_numpy() == pytest.approx(0.05)
    [conclusion] = pooled_gain(results)
    assert conclusion.verdict == "yes"
    assert "+5.00 points" in conclusion.evidence


def test_a_null_effect_is_never_called_yes(tmp_path):
    results = load(make_store(tmp_path, symmetric_noise, splits=("clause", "random")))
    assert results.runs["gain"].mean() == pytest.approx(0.0, abs=1e-12)
    verdicts = {c.claim: c.verdict for c in pooled_gain(results) + trends(results)}
    assert verdicts and all(v != "yes" for v in verdicts.values()), verdicts


def test_trends_follow_a_planted_slope(tmp_path):
    # Gain grows by one point per doubling of clauses and falls by one per doubling of neurons.
    def slope(h, m, *_):
        return 0.01 * (math.log2(m) - math.log2(h))
    found = {(c.topic, c.verdict) for c in trends(load(make_store(tmp_path, slope)))}
    assert found == {("gain vs clauses", "yes"), ("gain vs neurons", "yes")}


def test_a_line_with_one_point_cannot_give_a_trend(tmp_path):
    results = load(make_store(tmp_path, planted, cells=[(8, 8), (4, 16)]))
    verdicts = {c.verdict for c in trends(results)}
    assert verdicts == {"cannot compute"}


def test_bootstrap_intervals_cover_the_true_mean():
    rng = np.random.default_rng(1)
    covered = 0
    for trial in range(40):
        groups = [rng.normal(0.3, 1.0, size=30) for _ in range(4)]
        estimate = stats.pooled_mean(groups, seed=trial)
        covered += estimate.low <= 0.3 <= estimate.high
        assert estimate.t_low <= estimate.value <= estimate.t_high
    assert covered >= 34  # nominal 95% of 40 is 38


def test_bootstrap_is_reproducible():
    groups = [[0.1, 0.2, 0.4], [0.0, 0.3]]
    assert stats.pooled_mean(groups) == stats.pooled_mean(groups)


@pytest.mark.parametrize("t, df, p", [(2.776445105, 4, 0.05), (2.228138852, 10, 0.05),
                                      (1.0, 1, 0.5), (0.0, 7, 1.0), (1.959964, 1e6, 0.05)])
def test_student_t_tail_matches_tables(t, df, p):
    assert stats.t_two_sided_p(t, df) == pytest.approx(p, abs=1e-6)
    if p < 1:
        assert stats.t_quantile(1 - p / 2, df) == pytest.approx(t, rel=1e-5)


def test_paired_t_test_matches_a_hand_computation():
    summary = stats.summarize([1, 2, 3, 4, 5])  # t = 3 / (sqrt(2.5) / sqrt(5)) = 4.2426, df 4
    assert summary.p == pytest.approx(0.013236, abs=1e-5)
    assert (summary.low, summary.high) == pytest.approx((1.0368, 4.9632), abs=1e-4)


def test_the_report_writes_and_names_every_figure(tmp_path):
    store = make_store(tmp_path / "store", planted, alphas=(2, 4), splits=("clause", "random"),
                       seeds=3, methods=("dense", "fpe", "wide_dense", "sparse_scratch"))
    report = write_report(store, tmp_path / "out")
    text = report.read_text()
    pngs = sorted(p.name for p in report.parent.glob("*.png"))
    assert pngs == ["gram.png", "heatmap_relative_gain.png", "interference.png", "trends.png"]
    assert all(f"({name})" in text for name in pngs)
    assert [p.name for p in report.parent.iterdir() if p.name.startswith(".")] == []
    for expected in ("FPE beats dense, pooled over 7 cells (α=2, clause split)",
                     "Gains grow from α=2 to α=4", "The clause split beats the random split",
                     "FPE beats sparse_scratch", "## Results per cell", "git commit: abc",
                     "not reliable"):
        assert expected in text, expected


def test_split_and_output_scale_comparisons_appear_when_present(tmp_path):
    make_store(tmp_path / "copy", planted, cells=[(8, 8), (8, 16)],
               splits=("random", "random-shared"))
    make_store(tmp_path / "divide", lambda *_: 0.07, cells=[(8, 8), (8, 16)],
               splits=("random", "random-shared"), output_scale="divide")
    claims = {c.claim: c for c in all_conclusions(load([tmp_path / "copy",
                                                        tmp_path / "divide"]))}
    assert any(claim.startswith("A per-parent random split beats") for claim in claims)
    divide = [c for claim, c in claims.items() if claim.startswith("Dividing W2")]
    assert divide and all(c.verdict == "yes" for c in divide)
    assert all("+2.00 points" in c.evidence for c in divide)


def test_an_empty_results_dir_is_a_one_line_error(tmp_path):
    with pytest.raises(SatbenchError, match=str(tmp_path)) as error:
        write_report(tmp_path, tmp_path / "out")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out" / "report.md").exists()


def test_stores_without_fpe_rows_still_report(tmp_path):
    report = write_report(make_store(tmp_path / "s", planted, methods=("dense",)),
                          tmp_path / "out")
    text = report.read_text()
    assert "no fpe rows: every FPE-vs-dense comparison is skipped" in text
    assert "No figure" in text


def test_a_failing_figure_leaves_no_partial_report(tmp_path, monkeypatch):
    store = make_store(tmp_path / "s", planted)

    def broken(*_):
        raise RuntimeError("boom")
    monkeypatch.setattr(figures, "trends", broken)
    with pytest.raises(RuntimeError):
        write_report(store, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_reading_results_never_imports_torch(tmp_path):
    store = make_store(tmp_path / "s", planted, cells=[(8, 8), (8, 16)], seeds=3)
    script = ("import sys; from satbench.reports.render import write_report; "
              f"write_report({str(store)!r}, {str(tmp_path / 'out')!r}); "
              "assert 'torch' not in sys.modules, 'a report imported torch'")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert (tmp_path / "out" / "report.md").exists()


def test_runs_pair_arms_of_the_same_run(tmp_path):
    results = load(make_store(tmp_path, planted, cells=[(8, 8)], seeds=2))
    runs = results.runs
    assert runs.height == 2 and set(runs["seed"]) == {0, 1}
    assert (runs["fpe.test_accuracy"] - runs["dense.test_accuracy"]).to_list() == \
        pytest.approx([0.05, 0.05])
    assert isinstance(runs, pl.DataFrame)

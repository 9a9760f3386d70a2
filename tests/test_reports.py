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
import scipy.stats
from hypothesis import assume, given
from hypothesis import strategies as st

from satbench.errors import SatbenchError
from satbench.reports import figures, stats
from satbench.reports.aggregate import load
from satbench.reports.conclusions import all_conclusions, pooled_gain, trends
from satbench.reports.render import write_report
from satbench.store import read_results, write_run

PAPER_CELLS = [(h, 8) for h in (2, 4, 8, 16)] + [(8, m) for m in (4, 16, 32)]


PARAMS = {"dense": (), "dense_reset": (), "wide_dense": ("alpha",),
          "fpe": ("alpha", "split", "output_scale"),
          "sparse_scratch": ("alpha", "split", "output_scale")}


def make_store(directory, fpe_minus_dense, cells=PAPER_CELLS, alphas=(2,), splits=("clause",),
               seeds=5, methods=("dense", "fpe", "wide_dense"), output_scale="copy",
               seed=0):
    """One context per (cell, seed), one run file per method and params; fpe = dense +
    fpe_minus_dense(h, m, alpha, split, seed)."""
    rng = np.random.default_rng(seed)
    for (h, m), s in itertools.product(cells, range(seeds)):
        context = f"{output_scale}-{h}-{m}-{s}"
        dense = 0.7 + 0.2 * rng.random()
        for method, alpha, split in itertools.product(methods, alphas, splits):
            params = {"alpha": alpha, "split": split, "output_scale": output_scale}
            params = {name: params[name] for name in PARAMS[method]}
            key = "-".join([context, method, *map(str, params.values())])
            if (directory / "runs" / f"{key}.parquet").exists():
                continue  # dense and wide_dense do not vary with every param
            accuracy = {"dense": dense, "fpe": dense + fpe_minus_dense(h, m, alpha, split, s),
                        "wide_dense": min(1.0, dense + 0.08), "sparse_scratch": dense + 0.01,
                        "dense_reset": dense}[method]
            width = h if method in ("dense", "dense_reset") else alpha * h
            row = {
                "run_key": key, "context_key": context, "method": method,
                "method_params": ",".join(params), "budget": "nnz_weights",
                "compare_with": "dense", **params, "neurons": h, "clauses": m, "seed": s,
                "vars": 4, "width_hidden": width, "test_accuracy": accuracy,
                "train_accuracy": accuracy + 0.01, "majority_accuracy": 0.5,
                "nnz_weights": 10, "mean_abs_cos": 0.2 - 0.05 * (method == "fpe"),
                "mean_abs_cos_shared_inputs": 0.2 + 0.01 * rng.standard_normal(),
                "capacity_total": 2.0 + (method == "fpe") + 0.1 * rng.standard_normal(),
                "gram": rng.standard_normal(16).tolist(), "wall_seconds": 1.0,
                "satbench_version": "0.1.0", "git_commit": "abc", "torch_version": "2.x",
                "device": "cpu"}
            write_run(directory, key, [row], {"key": key})
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


PAIRS = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=2, max_size=30)


@given(PAIRS)
def test_summarize_is_the_paired_t_test_and_the_textbook_t_interval(pairs):
    a, b = (np.array(side) for side in zip(*pairs, strict=True))
    summary = stats.summarize(a - b)
    d = a - b
    assert summary.n == len(d) and summary.mean == pytest.approx(d.mean(), abs=1e-15)
    if summary.se == 0:  # no spread: every pair moved by the same amount
        assert summary.p == (1.0 if summary.mean == 0 else 0.0)
        assert summary.low == summary.high == summary.mean
        return
    assert summary.p == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue, rel=1e-9, abs=1e-15)
    se = d.std(ddof=1) / math.sqrt(len(d))
    half = scipy.stats.t.ppf(0.975, len(d) - 1) * se
    assert (summary.low, summary.high) == pytest.approx((d.mean() - half, d.mean() + half),
                                                        rel=1e-9, abs=1e-12)


@given(st.lists(st.tuples(st.integers(-8, 8), st.floats(-1, 1)), min_size=3, max_size=30))
def test_least_squares_is_polyfit_with_the_classical_slope_interval(points):
    x, y = (np.array(side, dtype=float) for side in zip(*points, strict=True))
    assume(np.ptp(x) > 0)
    fit = stats.least_squares(x, y)
    slope, intercept = np.polyfit(x, y, 1)
    scale = max(np.ptp(y), 1e-3)  # x are integers: |slope| <= the steepest pairwise slope
    assert (fit.slope, fit.intercept) == pytest.approx((slope, intercept), abs=1e-9 * scale)
    residual = y - (slope * x + intercept)
    sxx = ((x - x.mean()) ** 2).sum()
    half = scipy.stats.t.ppf(0.975, len(x) - 2) * math.sqrt((residual ** 2).sum()
                                                            / (len(x) - 2) / sxx)
    # scipy takes the standard error from 1 - r^2, which cancels in near-exact fits (up to
    # ~3e-7 of the scale seen); a wrong formula or df would be off by percents.
    assert (fit.slope_t_low, fit.slope_t_high) == pytest.approx((slope - half, slope + half),
                                                                abs=1e-5 * scale)
    assert fit.slope_t_low <= fit.slope <= fit.slope_t_high


def test_least_squares_needs_three_points_and_spread_in_x():
    assert stats.least_squares([1, 2], [3, 4]) is None
    assert stats.least_squares([1, 1, 1, 1], [1, 2, 3, 4]) is None
    assert stats.least_squares([1, 2, math.nan, 3], [1, 2, 3, math.nan]) is None
    flat = stats.least_squares([1, 2, 3], [0.5, 0.5, 0.5])
    assert (flat.slope, flat.slope_t_low, flat.slope_t_high) == (0.0, 0.0, 0.0)
    assert math.isnan(flat.r2)


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


def test_heatmap_missing_cell_does_not_look_like_no_effect(tmp_path, monkeypatch):
    import matplotlib
    from matplotlib.image import imread

    from satbench.reports.aggregate import load

    # (4, 8) has no runs; (2, 4) has exactly zero gain, which RdBu draws (near) white.
    store = make_store(tmp_path / "s", lambda h, m, *_: 0.0 if (h, m) == (2, 4) else 0.05,
                       cells=[(2, 4), (2, 8), (4, 4)], seeds=2)
    drawn = []
    save = figures._save

    def keep(figure, path):  # keep the figure, to map cells to pixels with its transform
        save(figure, path)
        drawn.append(figure)
    monkeypatch.setattr(figures, "_save", keep)
    caption = figures.heatmap(load(store), "", tmp_path / "heatmap.png")
    assert "hatched grey: no runs" in caption
    pixels = imread(tmp_path / "heatmap.png")[..., :3]
    ax = drawn[0].axes[0]  # the one panel (axes[1] is the colour bar)

    def colour(row, column):
        """Median colour of a cell's middle: the median looks past its label and hatch lines."""
        (x0, y0), (x1, y1) = ax.transData.transform([(column - 0.3, row - 0.3),
                                                     (column + 0.3, row + 0.3)])
        top = pixels.shape[0]  # image rows run down from the top; display y runs up
        block = pixels[round(top - y1):round(top - y0), round(x0):round(x1)]
        return np.median(block.reshape(-1, 3), axis=0)

    near_zero = matplotlib.colormaps["RdBu"](np.linspace(0.35, 0.65, 61))[:, :3]
    missing, zero = colour(1, 1), colour(0, 0)  # rows: neurons 2, 4; columns: clauses 4, 8
    assert np.abs(missing - 1).max() > 0.1, missing  # not white
    assert np.linalg.norm(near_zero - missing, axis=1).min() > 0.1, missing
    assert (zero > 0.9).all(), zero  # the present ~0 cell is near white


def test_skipped_store_files_are_named_on_the_terminal(tmp_path, capsys):
    from satbench.cli import main

    make_store(tmp_path / "store", planted, cells=[(2, 8), (4, 8)], seeds=2)
    (tmp_path / "store" / "runs" / "broken.parquet").write_bytes(b"PAR1 truncated")
    assert main(["report", str(tmp_path / "store"), "--out", str(tmp_path / "report")]) == 0
    err = capsys.readouterr().err
    assert "satbench: warning: " in err and "broken.parquet: skipped: not a readable Parquet" in err
    assert "broken.parquet" in (tmp_path / "report" / "report.md").read_text()
    assert (tmp_path / "store" / "runs" / "broken.parquet").exists()  # a reader moves nothing


def test_reports_go_beside_their_results_by_default(tmp_path, capsys):
    from satbench.cli import main

    make_store(tmp_path / "store", planted, cells=[(2, 8), (4, 8)], seeds=2)
    assert main(["report", str(tmp_path / "store")]) == 0
    assert (tmp_path / "store" / "report" / "report.md").exists()


def test_every_method_is_compared_with_dense_per_cell_without_its_code(tmp_path):
    store = make_store(tmp_path / "s", planted, cells=[(8, 8)], seeds=3,
                       methods=("dense", "fpe", "sparse_scratch", "dense_reset"))
    # A method satbench does not know (a plugin that is not installed): its rows describe it.
    rows = read_results(store).filter(pl.col("method") == "dense").with_columns(
        pl.lit("mine").alias("method"), pl.col("test_accuracy") + 0.02,
        (pl.col("run_key") + "-mine").alias("run_key"))
    for row in rows.to_dicts():
        write_run(store, row["run_key"], [row], {"key": row["run_key"]})
    report = write_report(store, tmp_path / "out").read_text()
    section = report.split("## Every method against dense, per cell")[1].split("\n## ")[0]
    assert "**h=8, m=8**" in section
    for label in ("fpe alpha=2 split=clause output_scale=copy",
                  "sparse_scratch alpha=2 split=clause output_scale=copy", "dense_reset", "mine"):
        assert f"| {label} |" in section, label
    fpe_line = next(line for line in section.splitlines() if line.startswith("| fpe "))
    assert "+5.00 ± 0.00 (p " in fpe_line  # the planted gain, paired within each context
    mine_line = next(line for line in section.splitlines() if line.startswith("| mine "))
    assert "+2.00 ± 0.00 (p " in mine_line


def test_budget_collisions_and_the_paper_table_from_a_real_read_once_sweep(tmp_path):
    """A small sweep at two budgets on read-once formulas: the report gains its budget verdicts,
    the collision table with the exact random-split value, and the against-the-paper table."""
    from satbench.cli import main
    from satbench.collision_law import exact_collision_rate

    out = tmp_path / "s"
    assert main(["sweep", "--neurons", "2", "--clauses", "4", "--vars", "12", "--support",
                 "disjoint", "--train", "64", "--test", "32", "--seeds", "3", "--steps", "2,2",
                 "6,6", "--methods", "dense,fpe", "--split", "clause,random", "--executor",
                 "serial", "--no-progress", "--out", str(out)]) == 0
    report = (out / "report" / "report.md").read_text()
    budget = report.split("## FPE's gain against the training budget")[1].split("\n## ")[0]
    assert "| α=2, clause split | 4 | 3 |" in budget and "| α=2, random split | 12 | 3 |" in budget
    verdicts = [line for line in budget.splitlines() if line.startswith("- **")]
    assert len(verdicts) == 2 and all(line.split("**")[1] in ("survives", "shrinks", "vanishes",
                                                              "not shown") for line in verdicts)
    collisions = report.split("## The collision law, measured")[1].split("\n## ")[0]
    assert f"| {exact_collision_rate(12, 3, 2):.4f} |" in collisions
    assert "| 1.000 |" in collisions  # the clause split keeps every read-once clause whole
    paper = report.split("## Against the paper")[1].split("\n## ")[0]
    assert "Gains survive longer training" in paper and "| not measured |" in paper
    assert (out / "report" / "collisions.png").exists()
    rows = read_results(out)
    assert rows["converged"].null_count() == 0 and rows["train_loss_late"].is_nan().sum() == 0


def test_the_per_clause_target_reports_per_clause_and_exact_match_accuracy(tmp_path):
    from satbench.cli import main

    out = tmp_path / "s"
    assert main(["sweep", "--neurons", "2", "--clauses", "3", "--vars", "8", "--target",
                 "clauses", "--form", "cnf,dnf", "--train", "64", "--test", "32", "--seeds",
                 "2", "--steps", "3,3", "--methods", "dense,fpe", "--split", "clause",
                 "--executor", "serial", "--no-progress", "--out", str(out)]) == 0
    rows = read_results(out)
    assert set(rows["target"]) == {"clauses"} and set(rows["form"]) == {"cnf", "dnf"}
    assert (rows["test_exact_match"] <= rows["test_accuracy"]).all()
    section = (out / "report" / "report.md").read_text().split(
        "## The per-clause target")[1].split("\n## ")[0]
    assert "form=cnf" in section and "form=dnf" in section


def test_the_seed_methods_run_through_sweep_and_reach_every_report_section(tmp_path):
    """bimt, fixed_classifier and tree_cc through `satbench sweep` beside dense and fpe: the
    per-cell tables, the pooled comparisons at each one's budget (tree_cc at depth 1: h=2 pays
    for one gate, not two), the Pareto figure, the structure table and BIMT's graph."""
    from satbench.cli import main

    out = tmp_path / "s"
    assert main(["sweep", "--neurons", "2", "--clauses", "4", "--vars", "12", "--train", "64",
                 "--test", "32", "--seeds", "2", "--steps", "4,4", "--target", "formula,clauses",
                 "--methods", "dense,fpe,bimt,fixed_classifier,tree_cc,tree_dense", "--split",
                 "clause", "--depth", "1", "--swap-every", "2", "--executor", "serial",
                 "--no-progress", "--out", str(out)]) == 0
    rows = read_results(out)
    assert rows.height == 2 * 2 * 6
    report = (out / "report" / "report.md").read_text()
    pooled = report.split("## Every method against dense and the methods it names, pooled")[1]
    pooled = pooled.split("\n## ")[0]
    for label, budget in (("bimt alpha=2", "dense's non-zero weights"),
                          ("fixed_classifier", "dense's non-zero weights"),
                          ("tree_cc depth=1", "dense's multiply-adds per example")):
        assert any(line.startswith(f"| {label}") and f"| dense | {budget} |" in line
                   for line in pooled.splitlines()), label
    assert any(line.startswith("| tree_cc depth=1") and "| tree_dense |" in line
               for line in pooled.splitlines())
    cells = report.split("## Every method against dense, per cell")[1].split("\n## ")[0]
    assert "| method | budget | nnz W | MACs | params |" in cells
    structure = report.split("## Structure and each method's own measures")[1].split("\n## ")[0]
    assert "classifier scale" in structure and "leaf entropy (bits)" in structure
    for figure in ("pareto.png", "bimt_graph.png"):
        assert (out / "report" / figure).stat().st_size > 10_000


def test_settings_sort_by_the_value_of_their_numbers():
    from satbench.reports.tables import by_setting

    steps = [f"warmup_steps={n}, expanded_steps={n}" for n in (10000, 1000, 3000)]
    assert by_setting(steps) == [steps[1], steps[2], steps[0]]
    assert by_setting(["a=0.5", "a=0.25", "a=1e-3"]) == ["a=1e-3", "a=0.25", "a=0.5"]

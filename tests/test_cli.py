"""The command line: happy paths, plugins, and user errors that exit 2 with one line and no
output."""

import gzip
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import satbench
from satbench.cli import main
from satbench.store import read_results


def run_cli(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_generate_inspect_dataset_round_trip(tmp_path, capsys):
    cnf = tmp_path / "task.cnf"
    status, out, _ = run_cli(capsys, "generate", "--vars", "16", "--clauses", "40",
                             "--planted", "--seed", "3", "--out", str(cnf))
    assert status == 0 and "fingerprint" in out
    status, out, _ = run_cli(capsys, "inspect", str(cnf))
    assert status == 0
    assert "variables:     16" in out and "clauses:       40" in out
    assert "widths:        3: 40" in out and "satisfiable:   yes" in out
    assert "models:" in out and "satbench-spec-fingerprint" in out
    data = tmp_path / "data.parquet"
    status, out, _ = run_cli(capsys, "dataset", "--formula", str(cnf), "--train", "20",
                             "--test", "10", "--out", str(data))
    assert status == 0 and len(pl.read_parquet(data)) == 30


def test_inspect_a_satlib_file(satlib, capsys):
    status, out, _ = run_cli(capsys, "inspect", str(satlib / "uuf50-01.cnf"))
    assert status == 0 and "satisfiable:   no" in out and "clauses:       218" in out


def test_dataset_from_generated_spec(tmp_path, capsys):
    out_file = tmp_path / "d.parquet"
    status, out, _ = run_cli(capsys, "dataset", "--vars", "24", "--clauses", "10", "--form",
                             "dnf", "--train", "50", "--test", "20", "--out", str(out_file))
    assert status == 0 and out_file.exists() and "dataset fingerprint" in out


TINY_RUN = ["--vars", "8", "--clauses", "3", "--train", "32", "--test", "16", "--steps", "1,1"]


@pytest.mark.parametrize("argv, message", [
    (["generate", "--vars", "3", "--clauses", "9", "--out", "{tmp}/x.cnf"], "clauses: 9"),
    (["generate", "--vars", "5", "--clauses", "3", "--width", "6", "--out", "{tmp}/x.cnf"],
     "width: 6"),
    (["generate", "--vars", "5", "--clauses", "3", "--seed", "-1", "--out", "{tmp}/x.cnf"],
     "seed: expected a non-negative integer, got -1"),
    (["dataset", "--formula", "{bad}", "--out", "{tmp}/x.parquet"], "bad.cnf:2:"),
    (["dataset", "--formula", "{unsat}", "--out", "{tmp}/x.parquet"], "positive class"),
    (["dataset", "--formula", "{unsat}", "--vars", "3", "--out", "{tmp}/x.parquet"],
     "--vars: not allowed with --formula"),
    (["dataset", "--clauses", "3", "--out", "{tmp}/x.parquet"], "--vars"),
    (["dataset", "--vars", "2000000", "--clauses", "10", "--out", "{tmp}/x.parquet"],
     "variables would need about 92 GiB of memory"),
    # Huge counts: beyond what their type holds, or than the machine's memory could hold.
    (["generate", "--vars", "99999999999999999999", "--clauses", "3", "--out", "{tmp}/x.cnf"],
     "vars: expected an integer <= 2147483647, got 99999999999999999999"),
    (["generate", "--vars", "3000000000", "--clauses", "3", "--out", "{tmp}/x.cnf"],
     "vars: expected an integer <= 2147483647, got 3000000000"),
    (["generate", "--vars", "5", "--clauses", "99999999999999999999", "--out", "{tmp}/x.cnf"],
     "clauses: expected an integer <= 9223372036854775807"),
    (["generate", "--vars", "1000000", "--clauses", "100000000000", "--out", "{tmp}/x.cnf"],
     "clauses: 100000000000 clauses of 3 literals over 1000000 variables would need about "
     "2235 GiB of memory"),
    (["generate", "--vars", "5", "--clauses", "3", "--seed", "99999999999999999999", "--out",
      "{tmp}/x.cnf"], "seed: expected an integer <= 9223372036854775807"),
    (["dataset", "--vars", "8", "--clauses", "3", "--seed", "99999999999999999999", "--out",
      "{tmp}/x.parquet"], "seed: expected an integer <= 9223372036854775807"),
    (["run", *TINY_RUN, "--neurons", "99999999999999999999", "--out", "{tmp}/r"],
     "neurons: expected an integer <= 9223372036854775807"),
    (["run", *TINY_RUN, "--methods", "dense", "--neurons", "100000000000", "--out", "{tmp}/r"],
     "neurons: dense with 100000000000 hidden units would need about"),
    (["run", *TINY_RUN, "--seed", "99999999999999999999", "--out", "{tmp}/r"],
     "seed: expected an integer <= 9223372036854775807"),
    (["run", *TINY_RUN, "--steps", "99999999999999999999,1", "--out", "{tmp}/r"],
     "warmup_steps: expected an integer <= 9223372036854775807"),
    (["sweep", "--neurons", "2", "--clauses", "3", "--vars", "16", "--seeds",
      "99999999999999999999", "--out", "{tmp}/r"], "seeds: a sweep of at least "),
    (["sweep", "--neurons", "99999999999999999999", "--clauses", "3", "--vars", "16",
      "--out", "{tmp}/r"], "neurons: expected an integer <= 9223372036854775807"),
    (["inspect", "{tmp}/missing.cnf"], "missing.cnf"),
    # Output locations are checked before any work: an existing directory where a file goes, a
    # path below a file, a file where a directory goes, and a place nobody can write.
    (["generate", "--vars", "5", "--clauses", "3", "--out", "{tmp}"], "is a directory"),
    (["dataset", "--vars", "5", "--clauses", "3", "--out", "{tmp}"], "is a directory"),
    (["generate", "--vars", "5", "--clauses", "3", "--out", "{plain}/x.cnf"],
     "is a file, not a directory"),
    (["generate", "--vars", "5", "--clauses", "3", "--out", "/proc/satbench/x.cnf"],
     "cannot create a file in /proc"),
    (["run", *TINY_RUN, "--out", "{plain}"], "--out: {plain} is a file; expected a directory"),
    (["run", *TINY_RUN, "--out", "{plain}/store"], "is a file, not a directory"),
    (["run", *TINY_RUN, "--alpha", "1"], "alpha: expected an integer >= 2 for fpe, got 1"),
    (["run", *TINY_RUN, "--batch", "99999999", "--out", "{tmp}/r"],
     "batch_size: 99999999 is not smaller than the training set (n_train=32); use batch_size 0 "
     "(--batch 0) for full batch"),
    # Non-finite numbers are refused by the specs before any work.
    (["run", *TINY_RUN, "--lr", "inf", "--out", "{tmp}/r"],
     "learning_rate: expected a finite number, got inf"),
    (["run", *TINY_RUN, "--lr", "nan", "--out", "{tmp}/r"],
     "learning_rate: expected a finite number, got nan"),
    (["run", *TINY_RUN, "--weight-decay", "inf", "--out", "{tmp}/r"],
     "weight_decay: expected a finite number, got inf"),
    (["sweep", "--neurons", "2", "--clauses", "3", "--vars", "16", "--lr", "0.1,inf",
      "--out", "{tmp}/r"], "learning_rate: expected a finite number, got inf"),
    (["run", *TINY_RUN, "--methods", "dense", "--alpha", "3"],
     "alpha: none of the methods dense takes it"),
    # An unknown method, for run and for sweep, and a plugin module that is not there.
    (["run", *TINY_RUN, "--methods", "dense,nope", "--out", "{tmp}/r"],
     "methods: unknown method 'nope'; known methods: bimt, dense, "),
    (["run", *TINY_RUN, "--arms", "nope", "--out", "{tmp}/r"], "unknown method 'nope'"),
    (["sweep", "--neurons", "2", "--clauses", "3", "--vars", "16", "--methods", "fpe,nope",
      "--out", "{tmp}/r"], "methods: unknown method 'nope'; known methods: bimt, dense"),
    (["run", "--plugin", "satbench_no_such_plugin", *TINY_RUN, "--out", "{tmp}/r"],
     "plugin 'satbench_no_such_plugin' (plugin module satbench_no_such_plugin (--plugin)): "
     "cannot be imported: ModuleNotFoundError: No module named 'satbench_no_such_plugin'"),
    (["sweep", "--neurons", "2", "--clauses", "3", "--vars", "16", "--out", "{plain}"],
     "--out: {plain} is a file"),
    (["sweep", "--neurons", "2", "--clauses", "3", "--vars", "16", "--out", "{tmp}/r",
      "--report", "{plain}"], "--report: {plain} is a file"),
    (["report", "{tmp}", "--out", "{plain}"], "--out: {plain} is a file"),
    (["report", "{tmp}", "--out", "/proc/satbench"], "cannot create a file in /proc"),
])
def test_user_errors_exit_2_with_one_line_and_no_output(tmp_path, satlib, capsys, argv, message):
    bad = tmp_path / "bad.cnf"
    bad.write_text("p cnf 3 1\n1 2 x 0\n")
    plain = tmp_path / "plain.txt"
    plain.write_text("not a directory\n")
    names = {"tmp": tmp_path, "bad": bad, "unsat": satlib / "uuf50-01.cnf", "plain": plain}
    before = set(tmp_path.rglob("*"))
    status, _, err = run_cli(capsys, *[a.format(**names) for a in argv])
    assert status == 2
    assert err.startswith("satbench: error:") and err.count("\n") == 1
    assert message.format(**names) in err
    assert set(tmp_path.rglob("*")) == before, "a failed command left output behind"
    assert plain.read_text() == "not a directory\n"


def test_a_formula_too_large_for_the_memory_is_one_line(tmp_path, capsys, monkeypatch):
    from satbench import memory

    monkeypatch.setattr(memory, "physical_memory", lambda: 8 * 2**30)
    status, out, err = run_cli(capsys, "generate", "--vars", "2147483647", "--clauses", "3",
                               "--planted", "--out", str(tmp_path / "x.cnf"))
    assert status == 2 and out == "" and list(tmp_path.iterdir()) == []
    assert err == ("satbench: error: vars: 3 clauses of 3 literals over 2147483647 variables "
                   "would need about 16 GiB of memory, more than this machine's 8 GiB; ask for "
                   "fewer clauses or variables\n")


@pytest.mark.parametrize("argv, message", [
    (["generate", "--vars", "3"], "the following arguments are required: --clauses, --out"),
    (["run", "--steps", "-1,5"], "--steps: expected T1,T2: two non-negative integers"),
    (["run", "--steps", "5"], "--steps: expected T1,T2"),
    (["sweep", "--executor", "dask"],
     "invalid choice: 'dask' (choose from 'local', 'ray', 'serial')"),
    (["sweep", "--bogus"], "unrecognized arguments: --bogus"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    # A list of nothing is a mistake, not a request for the defaults.
    (["run", "--methods", ","], "argument --methods/--arms: expected a comma-separated list of "
                                "at least one value, got ','"),
    (["run", "--methods", ""], "argument --methods/--arms: expected a comma-separated list"),
    (["sweep", "--methods", " , "], "argument --methods/--arms: expected a comma-separated list"),
    (["sweep", "--alpha", ","], "argument --alpha: expected a comma-separated list"),
    (["sweep", "--neurons", ",,", "--clauses", "4"],
     "argument --neurons: expected a comma-separated list"),
    (["sweep", "--planted", ","], "argument --planted: expected a comma-separated list"),
    # Retraining no run would verify nothing while saying everything was verified.
    (["verify", "reports/quick", "--runs", "0"],
     "argument --runs: expected a positive integer, got '0'"),
    (["verify", "reports/quick", "--runs", "-1"],
     "argument --runs: expected a positive integer, got '-1'"),
])
def test_usage_errors_print_one_line_and_exit_2(capsys, argv, message):
    status, out, err = run_cli(capsys, *argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "--help" in err
    # One prefix for every error, a subcommand's argparse errors included; the help to see
    # still names the subcommand.
    assert err.startswith("satbench: error: ")
    assert re.search(r" \(see satbench( [a-z]+)? --help\)\n$", err)


def test_version():
    result = subprocess.run([sys.executable, "-m", "satbench.cli", "--version"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == f"satbench {satbench.__version__}\n"


def test_help_lists_the_registries(capsys, monkeypatch):
    from satbench.kernels import FORMAT_CHOICES
    from satbench.methods import METHODS
    from satbench.models.splitters import register_splitter, splitter_names, unregister_splitter
    from satbench.sweeps.executors import EXECUTORS
    from satbench.sweeps.presets import PRESETS

    @register_splitter
    class Halves:  # a user's splitter appears in --help like the built-in ones
        name, version, shared = "halves-help-test", "1", True

        def split(self, weight, alpha, context, rng):
            raise NotImplementedError

    monkeypatch.setenv("COLUMNS", "1000")  # no line breaks inside hyphenated names
    try:
        listings = {}
        for command in ("run", "sweep"):
            assert main([command, "--help"]) == 0
            listings[command] = " ".join(capsys.readouterr().out.split())
    finally:
        unregister_splitter("halves-help-test")
    assert "halves-help-test" not in splitter_names()
    for command, text in listings.items():
        assert "halves-help-test" in text
        assert all(name in text for name in (*METHODS.names(), *FORMAT_CHOICES)), command
    assert all(name in listings["sweep"] for name in (*PRESETS, *EXECUTORS))


def test_generate_help_explains_its_counts(capsys):
    assert main(["generate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert re.search(r"--vars [A-Z_]+ variables n\b", text)
    assert re.search(r"--clauses [A-Z_]+ clauses m\b", text)


def _with_stdout_closed(*argv) -> tuple[int, str]:
    """Run satbench with its stdout's reader gone, as `satbench ... | head -0` leaves it."""
    process = subprocess.Popen([sys.executable, "-m", "satbench.cli", *map(str, argv)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # before satbench writes anything
    err = process.stderr.read()
    return process.wait(), err


def test_a_closed_pipe_ends_quietly_as_unix_tools_do(satlib):
    # 141 = 128 + SIGPIPE, what a shell reports for a tool stopped by a closed pipe.
    assert _with_stdout_closed("inspect", satlib / "uf20-01.cnf") == (141, "")


def test_generate_into_a_closed_pipe_still_writes_the_whole_file(tmp_path):
    written = tmp_path / "f.cnf"
    argv = ["generate", "--vars", "20", "--clauses", "80", "--seed", "4"]
    assert _with_stdout_closed(*argv, "--out", written) == (141, "")
    reference = tmp_path / "reference.cnf"
    assert main([*argv, "--out", str(reference)]) == 0
    assert written.read_bytes() == reference.read_bytes()


def test_written_files_follow_the_umask(tmp_path, capsys):
    old = os.umask(0o027)
    try:
        assert main(["generate", "--vars", "8", "--clauses", "4", "--out",
                     str(tmp_path / "f.cnf")]) == 0
        assert main(["dataset", "--vars", "8", "--clauses", "4", "--train", "16", "--test", "8",
                     "--out", str(tmp_path / "d.parquet")]) == 0
    finally:
        os.umask(old)
    for name in ("f.cnf", "d.parquet"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


def test_the_console_script_reports_errors_with_status_2(tmp_path):
    script = Path(sys.executable).with_name("satbench")  # installed beside this interpreter
    assert script.exists(), f"the satbench console script is not installed at {script}"
    result = subprocess.run([script, "generate", "--vars", "2", "--clauses", "1", "--width", "3",
                             "--out", str(tmp_path / "x.cnf")], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "x.cnf").exists()
    module = subprocess.run([sys.executable, "-m", "satbench.cli", "inspect", "/nonexistent.cnf"],
                            capture_output=True, text=True)
    assert module.returncode == 2 and "nonexistent.cnf" in module.stderr


def test_inspect_reads_a_gzip_file_and_reports_a_truncated_one(tmp_path, satlib, capsys):
    path = tmp_path / "x.cnf.gz"
    data = gzip.compress((satlib / "uuf50-01.cnf").read_bytes())
    path.write_bytes(data)
    status, out, _ = run_cli(capsys, "inspect", str(path))
    assert status == 0 and "satisfiable:   no" in out and "clauses:       218" in out
    path.write_bytes(data[: len(data) // 2])
    status, out, err = run_cli(capsys, "inspect", str(path))
    assert status == 2 and out == ""
    assert err == f"satbench: error: {path}: the gzip stream ends early (truncated file?)\n"


RUN_FLAGS = ["--vars", "8", "--clauses", "3", "--train", "64", "--test", "32", "--steps", "3,3",
             "--no-progress"]


def test_run_stores_a_file_per_method_and_a_rerun_finds_them(tmp_path, capsys):
    from satbench.store import read_results, runs_dir

    out = tmp_path / "r"
    argv = ["run", *RUN_FLAGS, "--methods", "dense,fpe,wide_dense", "--split", "random",
            "--seed", "2", "--out", str(out)]
    status, table, err = run_cli(capsys, *argv)
    assert status == 0 and "stored 3 runs" in err
    assert all(method in table for method in ("dense", "fpe", "wide_dense"))
    rows = read_results(out)
    assert sorted(rows["method"]) == ["dense", "fpe", "wide_dense"]
    assert rows["context_key"].n_unique() == 1 and rows["run_key"].n_unique() == 3
    assert set(rows["seed"]) == {2} and set(rows["task_seed"]) == {2}  # --seed sets both
    files = {p.name: p.read_bytes() for p in runs_dir(out).iterdir()}
    # --arms is an alias of --methods; a method already stored is not trained again.
    status, again, err = run_cli(capsys, *argv[:-2], "--arms", "dense,fpe", "--out", str(out))
    assert status == 0 and "found 2 of 2 runs already finished" in err and "stored" not in err
    assert {p.name: p.read_bytes() for p in runs_dir(out).iterdir()} == files


def test_plugins_lists_every_method_and_splitter_as_built_in(tmp_path):
    done = satbench_process(tmp_path, "plugins")  # a fresh process: no test's registrations
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "methods:" and "splitters:" in lines
    methods, splitters = lines[1:lines.index("splitters:")], lines[lines.index("splitters:"):]
    versions = {"dense": 1, "fpe": 2, "wide_dense": 1, "sparse_scratch": 2, "dense_reset": 1}
    for names, listing in ((versions, methods),
                           ({"clause": 2, "clause-weighted": 1, "random": 1, "random-shared": 1,
                             "contiguous": 1}, splitters)):
        for name, version in names.items():
            (line,) = [x for x in listing if x.split()[:1] == [name]]
            assert f"version {version}" in line and "built-in" in line, line


PLUGIN = """
import numpy as np

from satbench.models.splitters import balanced_labels, register_splitter


@register_splitter
class Halves:
    \"\"\"Contiguous halves of the inputs, the same for every parent.\"\"\"

    name = "halves-plugin-test"
    version = "7"
    shared = True

    def split(self, weight, alpha, context, rng):
        return np.tile(np.sort(balanced_labels(context.n_inputs, alpha)), (len(weight), 1))
"""


def satbench_process(tmp_path, *argv):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "satbench.cli", *map(str, argv)],
                          capture_output=True, text=True, env=env, cwd=tmp_path)


def test_a_plugin_module_adds_a_splitter_to_run_and_plugins(tmp_path):
    import polars as pl

    from satbench.store import read_results, runs_dir

    (tmp_path / "halves_plugin.py").write_text(PLUGIN)
    out = tmp_path / "r"
    done = satbench_process(tmp_path, "run", "--plugin", "halves_plugin", "--split",
                            "halves-plugin-test", "--methods", "dense,fpe", *RUN_FLAGS,
                            "--out", out)
    assert done.returncode == 0, done.stderr
    assert "split=halves-plugin-test" in done.stdout and "stored 2 runs" in done.stderr
    fpe = read_results(out).filter(pl.col("method") == "fpe").row(0, named=True)
    assert fpe["split"] == "halves-plugin-test"
    spec = json.loads(pl.read_parquet_metadata(runs_dir(out) / f"{fpe['run_key']}.parquet")[
        "satbench.run_spec"])
    assert spec["versions"] == {"method:fpe": "2",  # in the run key too
                                "splitter:halves-plugin-test": "7"}
    listed = satbench_process(tmp_path, "plugins", "--plugin", "halves_plugin")
    assert listed.returncode == 0, listed.stderr
    (line,) = [x for x in listed.stdout.splitlines() if "halves-plugin-test" in x]
    assert "version 7" in line and "plugin module halves_plugin (--plugin)" in line
    assert "built-in" not in line
    without = satbench_process(tmp_path, "plugins")
    assert without.returncode == 0 and "halves-plugin-test" not in without.stdout


@pytest.mark.parametrize("source, message", [
    ("import satbench_no_such_dependency\n", "No module named 'satbench_no_such_dependency'"),
    ("raise RuntimeError('the plugin is broken')\n", "the plugin is broken"),
    ("def broken(:\n", "SyntaxError"),
    ("from satbench.models.splitters import register_splitter\n\n\n@register_splitter\n"
     "class NoVersion:\n    name, shared = 'no-version', True\n\n"
     "    def split(self, weight, alpha, context, rng):\n        pass\n",
     "splitter 'no-version': needs version"),
])
def test_a_plugin_module_that_fails_to_import_is_one_line_and_exit_2(tmp_path, source, message):
    (tmp_path / "bad_plugin.py").write_text(source)
    for argv in (["plugins"], ["run", *RUN_FLAGS, "--out", tmp_path / "r"]):
        done = satbench_process(tmp_path, argv[0], "--plugin", "bad_plugin", *argv[1:])
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("satbench: error:") and done.stderr.count("\n") == 1
        assert message in done.stderr and "Traceback" not in done.stderr
        assert done.stdout == "" and not (tmp_path / "r").exists()


def test_run_with_a_preset_takes_its_task_training_and_params(tmp_path, capsys):
    status, out, err = run_cli(capsys, "run", "--preset", "paper", "--train", "512", "--test",
                               "32", "--steps", "2,2", "--methods", "dense,fpe", "--no-progress",
                               "--out", str(tmp_path / "r"))
    assert status == 0, err
    rows = {row["method"]: row for row in read_results(tmp_path / "r").to_dicts()}
    # the headline cell, beside the paper's numbers
    beside = out.splitlines()[-1]
    assert "dense 78.7%, random split 88.7%, clause split 99.4%" in beside
    assert f"this run: dense {rows['dense']['test_accuracy']:.1%}, clause " in beside
    dense, fpe = rows["dense"], rows["fpe"]
    assert (dense["neurons"], dense["clauses"]) == (8, 8)  # the headline cell
    assert (dense["support"], dense["vars"], dense["form"]) == ("disjoint", 96, "dnf")
    assert (dense["learning_rate"], dense["batch_size"]) == (1e-3, 256)
    assert (dense["n_train"], dense["warmup_steps"]) == (512, 2)  # flags override the preset
    assert (fpe["alpha"], fpe["split"], fpe["output_scale"]) == (2, "clause", "copy")


def test_choosing_methods_keeps_a_preset_s_joint_axes():
    from satbench.cli import build_parser, sweep_spec_from_args

    args = build_parser("sweep").parse_args(["sweep", "--preset", "budget", "--methods",
                                             "dense,fpe"])
    spec = sweep_spec_from_args(args)
    assert dict(spec.axes)["warmup_steps+expanded_steps"] == (
        (1000, 1000), (3000, 3000), (10000, 10000))


def test_run_with_a_preset_takes_its_joint_axis_when_it_has_one_value(tmp_path, capsys,
                                                                       monkeypatch):
    from satbench.sweeps import presets

    monkeypatch.setitem(presets.PRESETS, "two-steps", presets.PRESETS["paper"].with_axes(
        **{"warmup_steps+expanded_steps": ((2, 3),)}))
    status, _, err = run_cli(capsys, "run", "--preset", "two-steps", "--train", "512", "--test",
                             "32", "--methods", "dense", "--no-progress", "--out",
                             str(tmp_path / "r"))
    assert status == 0, err
    (row,) = read_results(tmp_path / "r").to_dicts()
    assert (row["warmup_steps"], row["expanded_steps"]) == (2, 3)


def test_the_paper_s_numbers_are_set_only_beside_its_headline_cell():
    from satbench.paper import headline_comparison

    def rows(clauses):
        cell = {"form": "dnf", "clauses": clauses, "neurons": 8}
        return [cell | {"method": "dense", "test_accuracy": 0.8},
                cell | {"method": "fpe", "alpha": 2, "split": "random", "test_accuracy": 0.85}]

    assert headline_comparison(rows(8)).endswith("this run: dense 80.0%, random 85.0%")
    assert headline_comparison(rows(16)) is None
    assert headline_comparison(rows(8)[:1]) is None  # dense alone compares nothing

"""The command line: happy paths, and user errors that exit 2 with one line and no output."""

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from satbench.cli import main


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


@pytest.mark.parametrize("argv, message", [
    (["generate", "--vars", "3", "--clauses", "9", "--out", "{tmp}/x.cnf"], "clauses: 9"),
    (["generate", "--vars", "5", "--clauses", "3", "--width", "6", "--out", "{tmp}/x.cnf"],
     "width: 6"),
    (["dataset", "--formula", "{bad}", "--out", "{tmp}/x.parquet"], "bad.cnf:2:"),
    (["dataset", "--formula", "{unsat}", "--out", "{tmp}/x.parquet"], "positive class"),
    (["dataset", "--formula", "{unsat}", "--vars", "3", "--out", "{tmp}/x.parquet"],
     "--vars: not allowed with --formula"),
    (["dataset", "--clauses", "3", "--out", "{tmp}/x.parquet"], "--vars"),
    (["inspect", "{tmp}/missing.cnf"], "missing.cnf"),
])
def test_user_errors_exit_2_with_one_line_and_no_output(tmp_path, satlib, capsys, argv, message):
    bad = tmp_path / "bad.cnf"
    bad.write_text("p cnf 3 1\n1 2 x 0\n")
    names = {"tmp": tmp_path, "bad": bad, "unsat": satlib / "uuf50-01.cnf"}
    before = set(tmp_path.iterdir())
    status, _, err = run_cli(capsys, *[a.format(**names) for a in argv])
    assert status == 2
    assert err.startswith("satbench: error:") and err.count("\n") == 1 and message in err
    assert set(tmp_path.iterdir()) == before, "a failed command left output behind"


def test_argparse_errors_also_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--vars", "3"])
    assert exit_info.value.code == 2


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

"""DIMACS reading and writing: real SATLIB files, every error case, and round trips."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pysat.formula import CNF
from pysat.solvers import Solver

from satbench.errors import SatbenchError
from satbench.generators.dimacs import (
    FINGERPRINT_KEY,
    read_dimacs,
    read_dimacs_comments,
    write_dimacs,
)
from satbench.generators.formula import Formula
from satbench.generators.random_formula import max_distinct_clauses, random_formula

SATLIB = Path(__file__).resolve().parents[2] / "shared" / "data" / "satlib"


def _satlib(name: str) -> Path:
    path = SATLIB / name
    if not path.exists():
        pytest.fail(f"{path} not present (shared/ must sit beside the clone)")
    return path


def test_uf20_is_satisfiable_and_the_model_evaluates_true():
    formula = read_dimacs(_satlib("uf20-01.cnf"))
    assert (formula.n_vars, formula.n_clauses, formula.form) == (20, 91, "cnf")
    assert formula.widths.tolist() == [3] * 91
    with Solver(name="cadical153", bootstrap_with=[list(c) for c in formula.clauses]) as solver:
        assert solver.solve()
        model = solver.get_model()
    assignment = np.zeros((1, 20), dtype=bool)
    for literal in model:
        if abs(literal) <= 20:
            assignment[0, abs(literal) - 1] = literal > 0
    clause_values, formula_values = formula.evaluate(assignment)
    assert clause_values.all() and formula_values[0]


def test_uuf50_is_unsatisfiable():
    formula = read_dimacs(_satlib("uuf50-01.cnf"))
    assert (formula.n_vars, formula.n_clauses) == (50, 218)
    with Solver(name="cadical153", bootstrap_with=[list(c) for c in formula.clauses]) as solver:
        assert not solver.solve()


@pytest.mark.parametrize("name", ["uf20-01.cnf", "uuf50-01.cnf"])
def test_satlib_file_agrees_with_pysat(name):
    path = _satlib(name)
    assert [list(c) for c in read_dimacs(path).clauses] == CNF(from_file=str(path)).clauses


@pytest.mark.parametrize("name", ["uf20-01.cnf", "uuf50-01.cnf"])
def test_satlib_trailer_is_ignored(tmp_path, name):
    original = _satlib(name)
    copy = tmp_path / name
    shutil.copy(original, copy)
    with open(copy, "a") as out:
        out.write("%\n0\n\n")
    assert read_dimacs(copy) == read_dimacs(original)


def test_odd_layout_is_accepted(tmp_path):
    path = tmp_path / "odd.cnf"
    path.write_text(
        "c leading comment\n\n"
        "  p   cnf\t3   4  \n"
        "c comment between clauses\n"
        "\t1  -2 0 2 3\n"          # one clause ends, the next starts on the same line
        "   -1 0\n"                # ... and finishes on the next
        "3 3 -3 0\n"               # repeated literal dropped, tautology kept
        "\n"
        "2\n-3\n0\n"               # a clause over three lines
        "%\n0\n"
        "garbage after the trailer is ignored\n"
    )
    formula = read_dimacs(path)
    assert formula == Formula(3, ((1, -2), (2, 3, -1), (3, -3), (2, -3)), "cnf")


def test_dnf_header(tmp_path):
    path = tmp_path / "f.dnf"
    path.write_text("p dnf 2 2\n1 2 0\n-1 -2 0\n")
    assert read_dimacs(path) == Formula(2, ((1, 2), (-1, -2)), "dnf")


ERROR_CASES = {
    # name: (file text, line number the message must name or None, words it must contain)
    "missing header": ("c only a comment\n\n", None, "no header"),
    "header too short": ("c x\np cnf 20\n1 0\n", 2, "malformed header"),
    "header wrong kind": ("p sat 2 1\n1 0\n", 1, "malformed header"),
    "header negative count": ("p cnf 2 -1\n1 0\n", 1, "malformed header"),
    "header zero variables": ("p cnf 0 0\n", 1, "0 variables"),
    "duplicate header": ("p cnf 2 1\n1 0\np cnf 2 1\n", 3, "first is on line 1"),
    "clause before header": ("c x\n1 2 0\np cnf 2 1\n", 2, "before the header"),
    "text before header": ("hello\np cnf 2 1\n1 0\n", 1, "'hello'"),
    "non-integer token": ("p cnf 3 2\n1 2 0\n1 x2 0\n", 3, "'x2'"),
    "plus sign": ("p cnf 3 1\n+1 2 0\n", 2, "'+1'"),
    "huge literal": ("p cnf 3 1\n1 99999999999999 0\n", 2, "too large"),
    "literal beyond n_vars": ("p cnf 20 2\n1 2 0\n\n3 -25 0\n", 4, "literal -25 exceeds the 20"),
    "too many clauses": ("c x\np cnf 3 1\n1 0\n2 0\n", 2, "declares 1 clauses but the file has 2"),
    "too few clauses": ("p cnf 3 3\n1 0\n2 0\n", 1, "declares 3 clauses but the file has 2"),
    "unterminated clause": ("p cnf 3 2\n1 0\n2\n3\n", 3, "not terminated by 0"),
    "unterminated before trailer": ("p cnf 3 1\n1 2\n%\n0\n", 2, "not terminated by 0"),
    "empty clause": ("p cnf 3 2\n1 0\n0\n", 3, "empty clause"),
    "empty clause mid-line": ("p cnf 3 2\n1 0 0 2 0\n", 2, "empty clause"),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_names_file_and_line(tmp_path, case):
    text, line, words = ERROR_CASES[case]
    path = tmp_path / "bad.cnf"
    path.write_text(text)
    with pytest.raises(SatbenchError) as caught:
        read_dimacs(path)
    message = str(caught.value)
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert message.startswith(prefix), message
    assert words in message
    assert "\n" not in message


def test_file_errors(tmp_path):
    cases = {
        tmp_path / "missing.cnf": ("no such file", None),
        tmp_path: ("cannot read", None),  # a directory
    }
    latin1 = tmp_path / "latin1.cnf"
    latin1.write_bytes(b"c ok\nc caf\xe9\np cnf 1 1\n1 0\n")
    cases[latin1] = ("not UTF-8", 2)
    for path, (words, line) in cases.items():
        with pytest.raises(SatbenchError) as caught:
            read_dimacs(path)
        message = str(caught.value)
        assert message.startswith(f"{path}:{line}: " if line else f"{path}: "), message
        assert words in message and "\n" not in message


def test_write_layout_and_comments(tmp_path):
    formula = Formula(3, ((1, -2, 3), (-3,)), "cnf")
    path = tmp_path / "out" / "f.cnf"
    write_dimacs(formula, path, comments={"satbench-spec": '{"n": 3}', "note": "  x y  "})
    assert path.read_text().splitlines() == [
        'c satbench-spec: {"n": 3}',
        "c note:   x y  ",
        f"c {FINGERPRINT_KEY}: {formula.fingerprint}",
        "p cnf 3 2",
        "1 -2 3 0",
        "-3 0",
    ]
    assert read_dimacs_comments(path) == {
        "satbench-spec": '{"n": 3}', "note": "x y", FINGERPRINT_KEY: formula.fingerprint,
    }
    assert [p.name for p in path.parent.iterdir()] == ["f.cnf"]  # no temp file left behind


def test_satlib_comments_without_pairs_are_skipped():
    assert read_dimacs_comments(_satlib("uf20-01.cnf")) == {}


@pytest.mark.parametrize("comments", [{"bad key": "v"}, {"": "v"}, {"a:b": "v"}, {"k": "a\nb"}])
def test_bad_comments_rejected_and_nothing_written(tmp_path, comments):
    path = tmp_path / "f.cnf"
    with pytest.raises(SatbenchError):
        write_dimacs(Formula(1, ((1,),)), path, comments=comments)
    assert list(tmp_path.iterdir()) == []


def test_failed_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "f.cnf"
    path.write_text("old")

    class Boom(Exception):
        pass

    def explode(self):
        raise Boom

    # A clause whose str() fails midway through the write.
    class BadInt(int):
        __str__ = explode

    formula = Formula(2, ((1, 2), (BadInt(2),)))
    with pytest.raises(Boom):
        write_dimacs(formula, path)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.cnf"]


@st.composite
def formulas(draw):
    n_vars = draw(st.integers(1, 8))
    width = draw(st.integers(1, min(n_vars, 4)))
    m = draw(st.integers(1, min(30, max_distinct_clauses(n_vars, width))))
    form = draw(st.sampled_from(["cnf", "dnf"]))
    return random_formula(n_vars, m, width, form, seed=draw(st.integers(0, 2**32)))


keys = st.from_regex(r"[A-Za-z0-9_.\-]{1,12}", fullmatch=True)
values = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=20)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(formula=formulas(), comments=st.dictionaries(keys, values, max_size=3))
def test_round_trip(tmp_path, formula, comments):
    comments.pop(FINGERPRINT_KEY, None)
    path = tmp_path / f"f.{formula.form}"
    write_dimacs(formula, path, comments=comments)
    assert read_dimacs(path) == formula
    expected = {key: value.strip() for key, value in comments.items()}
    assert read_dimacs_comments(path) == {**expected, FINGERPRINT_KEY: formula.fingerprint}
    if formula.form == "cnf":
        assert CNF(from_file=str(path)).clauses == [list(c) for c in formula.clauses]

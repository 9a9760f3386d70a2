"""DIMACS reading and writing: SATLIB files, compression, every error case, round trips."""

import bz2
import gzip
import hashlib
import lzma
import random
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

SATLIB_FILES = ["uf20-01.cnf", "uuf50-01.cnf"]
# suffix: (codec name in error messages, its standard-library module)
CODECS = {".gz": ("gzip", gzip), ".xz": ("xz", lzma), ".bz2": ("bzip2", bz2)}


def test_satlib_data_ship_inside_the_repository_with_their_listed_hashes(satlib):
    # So a clone passes its tests with nothing beside it, and the files are the ones listed.
    repository = Path(__file__).resolve().parents[1]
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in (satlib / "README.md").read_text().splitlines() if line.startswith("|")]
    header, *body = rows
    column = header.index("sha256")
    listed = {row[0]: row[column] for row in body if row[0].endswith(".cnf")}
    assert sorted(listed) == sorted(p.name for p in satlib.glob("*.cnf")) == SATLIB_FILES
    for name, digest in listed.items():
        path = satlib / name
        assert not path.is_symlink() and path.resolve().is_relative_to(repository), path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name


def test_uf20_is_satisfiable_and_the_model_evaluates_true(satlib):
    formula = read_dimacs(satlib / "uf20-01.cnf")
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


def test_uuf50_is_unsatisfiable(satlib):
    formula = read_dimacs(satlib / "uuf50-01.cnf")
    assert (formula.n_vars, formula.n_clauses) == (50, 218)
    with Solver(name="cadical153", bootstrap_with=[list(c) for c in formula.clauses]) as solver:
        assert not solver.solve()


@pytest.mark.parametrize("name", SATLIB_FILES)
def test_satlib_file_agrees_with_pysat(satlib, name):
    path = satlib / name
    assert [list(c) for c in read_dimacs(path).clauses] == CNF(from_file=str(path)).clauses


@pytest.mark.parametrize("name", SATLIB_FILES)
def test_satlib_trailer_is_ignored(tmp_path, satlib, name):
    original = satlib / name
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


@pytest.mark.parametrize("suffix", CODECS)
@pytest.mark.parametrize("name", SATLIB_FILES)
def test_compressed_satlib_file_reads_like_the_plain_one(tmp_path, satlib, name, suffix):
    plain = satlib / name
    compressed = CODECS[suffix][1].compress(plain.read_bytes())
    (tmp_path / (name + suffix)).write_bytes(compressed)
    (tmp_path / name).write_bytes(compressed)  # misnamed: detected by content, not suffix
    for path in (tmp_path / (name + suffix), tmp_path / name):
        assert read_dimacs(path) == read_dimacs(plain)
        assert read_dimacs_comments(path) == read_dimacs_comments(plain)


def _one_line_error(path) -> str:
    with pytest.raises(SatbenchError) as caught:
        read_dimacs(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:") and "\n" not in message, message
    return message


@pytest.mark.parametrize("suffix", CODECS)
def test_compressed_file_errors_keep_their_line_numbers(tmp_path, suffix):
    path = tmp_path / f"bad.cnf{suffix}"
    path.write_bytes(CODECS[suffix][1].compress(b"c x\np cnf 3 1\n1 x2 0\n"))
    assert _one_line_error(path) == f"{path}:3: expected an integer literal, got 'x2'"


def _damaged_compressed_file(tmp_path, satlib, suffix):
    """(codec name, bytes of uf20-01.cnf compressed with it, where to write a damaged copy)."""
    codec, module = CODECS[suffix]
    data = module.compress((satlib / "uf20-01.cnf").read_bytes())
    return codec, data, tmp_path / f"f.cnf{suffix}"


@pytest.mark.parametrize("suffix", CODECS)
def test_truncated_compressed_file_is_one_line_error(tmp_path, satlib, suffix):
    codec, data, path = _damaged_compressed_file(tmp_path, satlib, suffix)
    for end in (len(data) // 2, len(data) - 1):
        path.write_bytes(data[:end])
        assert _one_line_error(path) == f"{path}: the {codec} stream ends early (truncated file?)"
    # Cut anywhere, even inside the magic number, the file still gives one line naming it.
    for end in range(len(data)):
        path.write_bytes(data[:end])
        _one_line_error(path)


@pytest.mark.parametrize("suffix", CODECS)
def test_truncation_past_the_satlib_trailer_is_caught(tmp_path, suffix):
    # Incompressible text after the trailer, far more than one read of the decompressor takes.
    tail = random.Random(0).randbytes(100_000).hex().encode()
    codec, module = CODECS[suffix]
    path = tmp_path / f"f.cnf{suffix}"
    path.write_bytes(module.compress(b"p cnf 1 1\n1 0\n%\n0\n" + tail)[:-1])
    assert _one_line_error(path) == f"{path}: the {codec} stream ends early (truncated file?)"


# A damaged byte each format is sure to catch: gzip's CRC of the data (in its 8-byte trailer),
# xz's footer magic (its last two bytes), bzip2's block magic (just after the 4-byte header).
CORRUPT_AT = {".gz": -8, ".xz": -1, ".bz2": 4}


@pytest.mark.parametrize("suffix", CODECS)
def test_corrupt_compressed_file_is_one_line_error(tmp_path, satlib, suffix):
    codec, data, path = _damaged_compressed_file(tmp_path, satlib, suffix)
    damaged = bytearray(data)
    damaged[CORRUPT_AT[suffix]] ^= 0xFF
    path.write_bytes(damaged)
    assert _one_line_error(path).startswith(f"{path}: not a valid {codec} stream (")
    # Damage anywhere gives one line naming the file (or, in a field no check covers such as
    # gzip's time stamp, the same formula), never a traceback.
    expected = read_dimacs(satlib / "uf20-01.cnf")
    for index in range(len(data)):
        damaged = bytearray(data)
        damaged[index] ^= 0xFF
        path.write_bytes(damaged)
        try:
            assert read_dimacs(path) == expected
        except SatbenchError as error:
            assert str(error).startswith(f"{path}:") and "\n" not in str(error)


@pytest.mark.parametrize("suffix", CODECS)
def test_compressed_output_is_deterministic(tmp_path, suffix):
    formula = random_formula(20, 60, 3, "cnf", seed=1)
    first, second = tmp_path / f"a.cnf{suffix}", tmp_path / f"b.cnf{suffix}"
    write_dimacs(formula, first)
    write_dimacs(formula, second)  # another name, and a later time
    assert first.read_bytes() == second.read_bytes()
    if suffix == ".gz":  # header: no flags (so no file name), time stamp 0
        assert first.read_bytes()[3:8] == bytes(5)


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


def test_satlib_comments_without_pairs_are_skipped(satlib):
    assert read_dimacs_comments(satlib / "uf20-01.cnf") == {}


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
@given(formula=formulas(), comments=st.dictionaries(keys, values, max_size=3),
       suffix=st.sampled_from(["", *CODECS]))
def test_round_trip(tmp_path, formula, comments, suffix):
    comments.pop(FINGERPRINT_KEY, None)
    path = tmp_path / f"f.{formula.form}{suffix}"
    write_dimacs(formula, path, comments=comments)
    if suffix:  # really compressed: it decompresses to the plain file
        plain = tmp_path / f"plain.{formula.form}"
        write_dimacs(formula, plain, comments=comments)
        assert CODECS[suffix][1].decompress(path.read_bytes()) == plain.read_bytes()
    assert read_dimacs(path) == formula
    expected = {key: value.strip() for key, value in comments.items()}
    assert read_dimacs_comments(path) == {**expected, FINGERPRINT_KEY: formula.fingerprint}
    if formula.form == "cnf":
        assert CNF(from_file=str(path)).clauses == [list(c) for c in formula.clauses]

"""DIMACS CNF files: a strict reader with line-numbered errors, and an atomic writer.

Both handle gzip, xz and bzip2 compression transparently, as SAT solvers and python-sat do. The
reader recognises a compressed file by its first bytes (its magic number), so a misnamed file
still reads; the writer compresses when the path ends in `.gz`, `.xz` or `.bz2`. Its gzip output
stores no file name and a zero time stamp, so the same formula always gives the same bytes.

Reading accepts what real files contain: `c` comment lines anywhere, blank lines, any whitespace
(leading, trailing, tabs, runs of spaces), clauses spread over several lines or several clauses on
one line (a clause ends at the literal 0), and the SATLIB trailer (a `%` line, then a `0` line:
everything from `%` on is ignored). The header is `p cnf N M`, or `p dnf N M` (a non-standard
but used extension) for a formula whose clauses are terms of a disjunction.

Two choices about clause contents:
- a literal repeated within a clause is dropped silently (the clause means the same thing);
  so a Formula with repeated literals does not survive a write/read round trip unchanged;
- a tautology (v and -v in one clause) is kept as it is: it is legal DIMACS, and dropping it
  would change the clause count and indices that callers see.

Every problem raises SatbenchError with a one-line message `<path>:<line>: <what is wrong>`
(just `<path>: ...` where no line applies); line numbers count lines of the decompressed text. A
corrupt or truncated compressed file gives `<path>: not a valid <codec> stream (...)` or `<path>:
the <codec> stream ends early (truncated file?)`. The text is parsed as it streams out of the
decompressor, so garbage that decompresses before the corruption is detected can surface as a
line error instead.
"""

import bz2
import gzip
import io
import lzma
import os
import re
import zlib
from collections.abc import Iterator, Mapping

from satbench.atomic import atomic_path
from satbench.errors import SatbenchError
from satbench.generators.formula import Formula
from satbench.specs import FORMS, MAX_VARS

FINGERPRINT_KEY = "satbench-formula-fingerprint"
# Plain ASCII integers only: int() alone would also take "+5", "1_000" and non-ASCII digits.
_INTEGER = re.compile(r"-?[0-9]+")
_COMMENT_PAIR = re.compile(r"c\s+([^\s:]+):(.*)", re.DOTALL)
_HEADER_USAGE = "expected 'p cnf <vars> <clauses>' (or 'p dnf <vars> <clauses>')"
# Each compressed format's magic number: its first bytes. bzip2's ends in the block-size digit,
# which keeps a text file that happens to start with "BZh" out.
_MAGIC = {
    "gzip": re.compile(rb"\x1f\x8b"),
    "xz": re.compile(rb"\xfd7zXZ\x00"),
    "bzip2": re.compile(rb"BZh[1-9]"),
}
# Decompressors over an open binary file; none of them closes that file when closed.
_READERS = {
    "gzip": lambda handle: gzip.GzipFile(fileobj=handle, mode="rb"),
    "xz": lzma.LZMAFile,
    "bzip2": bz2.BZ2File,
}
_WRITERS = {
    # An empty filename and mtime 0 keep the temp file's name and the time out of the header.
    ".gz": lambda handle: gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0),
    ".xz": lambda handle: lzma.LZMAFile(handle, "wb"),
    ".bz2": lambda handle: bz2.BZ2File(handle, "wb"),
}


def _show(text: str, limit: int = 40) -> str:
    """A token or line quoted for an error message: repr keeps it on one line; long ones cut."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _codec(head: bytes) -> str | None:
    """The compression whose magic number `head` starts with, or None for a plain file."""
    return next((codec for codec, magic in _MAGIC.items() if magic.match(head)), None)


def _lines(path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) for each line up to the SATLIB `%` trailer."""
    name = os.fspath(path)
    try:
        handle = open(path, "rb")  # bytes, so a decoding error can name its line
    except FileNotFoundError:
        raise SatbenchError(f"{name}: no such file") from None
    except OSError as error:
        raise SatbenchError(f"{name}: cannot read the file ({error.strerror})") from None
    codec = None
    with handle:
        try:
            # peek, not read and seek back: a pipe (bash's <(...)) cannot seek.
            codec = _codec(handle.peek())
            with (_READERS[codec](handle) if codec else handle) as stream:
                for number, raw in enumerate(stream, start=1):
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        raise SatbenchError(f"{name}:{number}: not UTF-8 text") from None
                    line = line.removeprefix("\ufeff") if number == 1 else line
                    line = line.strip()
                    if line.startswith("%"):
                        if codec:  # decompress the rest too, so damage past the trailer shows
                            stream.read()
                        return
                    yield number, line
        except EOFError:  # only the decompressors raise it: input ran out mid-stream
            raise SatbenchError(f"{name}: the {codec} stream ends early (truncated file?)") \
                from None
        except (lzma.LZMAError, zlib.error) as error:
            raise SatbenchError(f"{name}: not a valid {codec} stream ({error})") from None
        except OSError as error:
            # gzip (BadGzipFile) and bz2 report bad data as OSErrors without an errno; a real
            # read error has one (e.g. a directory opens on some systems but fails to read).
            if codec and error.errno is None:
                raise SatbenchError(f"{name}: not a valid {codec} stream ({error})") from None
            raise SatbenchError(f"{name}: cannot read the file ({error.strerror})") from None


def _integer(token: str, where: str, what: str) -> int:
    if not _INTEGER.fullmatch(token):
        raise SatbenchError(f"{where}: expected {what}, got {_show(token)}")
    if len(token.lstrip("-")) > 10:  # also keeps int() clear of its digit limit
        raise SatbenchError(f"{where}: {what} {_show(token)} is too large")
    return int(token)


def _parse_header(tokens: list[str], where: str) -> tuple[str, int, int]:
    if len(tokens) != 4 or tokens[1] not in FORMS:
        raise SatbenchError(f"{where}: malformed header {_show(' '.join(tokens))}, {_HEADER_USAGE}")
    counts = []
    for token in tokens[2:]:
        if not _INTEGER.fullmatch(token) or token.startswith("-"):
            raise SatbenchError(
                f"{where}: malformed header {_show(' '.join(tokens))}, {_HEADER_USAGE} with "
                "non-negative integer counts"
            )
        counts.append(_integer(token, where, "a count"))
    n_vars, n_clauses = counts
    if not 1 <= n_vars <= MAX_VARS:
        raise SatbenchError(
            f"{where}: header declares {n_vars} variables, expected 1 to {MAX_VARS}"
        )
    return tokens[1], n_vars, n_clauses


def read_dimacs(path) -> Formula:
    """Read a DIMACS file (see the module docstring for what is accepted) into a Formula."""
    name = os.fspath(path)
    header = None  # (line number, form, n_vars, n_clauses) once seen
    clauses: list[tuple[int, ...]] = []
    pending: list[int] = []  # literals of the clause being read
    pending_start = 0  # line where the pending clause began
    for number, line in _lines(path):
        if not line or line.startswith("c"):
            continue
        where = f"{name}:{number}"
        tokens = line.split()
        if line.startswith("p"):
            if header is not None:
                raise SatbenchError(f"{where}: second header (the first is on line {header[0]})")
            header = (number, *_parse_header(tokens, where))
            continue
        if header is None:
            if all(_INTEGER.fullmatch(token) for token in tokens):
                raise SatbenchError(f"{where}: clause before the header, {_HEADER_USAGE} first")
            raise SatbenchError(f"{where}: {_HEADER_USAGE} or a 'c' comment, got {_show(line)}")
        n_vars = header[2]
        for token in tokens:
            literal = _integer(token, where, "an integer literal")
            if literal == 0:
                if not pending:
                    raise SatbenchError(f"{where}: empty clause (a 0 with no literals before it)")
                clauses.append(tuple(dict.fromkeys(pending)))  # drop repeats, keep order
                pending = []
            elif abs(literal) > n_vars:
                raise SatbenchError(
                    f"{where}: literal {literal} exceeds the {n_vars} variables declared in the "
                    "header"
                )
            else:
                if not pending:
                    pending_start = number
                pending.append(literal)
    if header is None:
        raise SatbenchError(f"{name}: no header line, {_HEADER_USAGE}")
    if pending:
        raise SatbenchError(
            f"{name}:{pending_start}: clause is not terminated by 0 before the end of the file"
        )
    header_line, form, n_vars, n_clauses = header
    if len(clauses) != n_clauses:
        raise SatbenchError(
            f"{name}:{header_line}: header declares {n_clauses} clauses but the file has "
            f"{len(clauses)}"
        )
    return Formula(n_vars, tuple(clauses), form)


def read_dimacs_comments(path) -> dict[str, str]:
    """The `c key: value` comment pairs of a file (a later repeat of a key wins).

    Keys have no spaces or colons; values are stripped of surrounding whitespace. Other comment
    lines (free text such as SATLIB's `c clause length = 3`) are skipped; the rest of the file is
    not validated here.
    """
    comments = {}
    for _, line in _lines(path):
        match = _COMMENT_PAIR.fullmatch(line)
        if match:
            comments[match[1]] = match[2].strip()
    return comments


def write_dimacs(formula: Formula, path, comments: Mapping[str, str] | None = None) -> None:
    """Write standard DIMACS: comment lines, the header, then one clause per line ending in 0.

    Each comment item becomes a `c key: value` line, followed by (or, if the caller passes that
    key, replaced by) `c satbench-formula-fingerprint: <formula.fingerprint>`. Keys must be
    non-empty with no whitespace or colon, and values must fit on one line; values come back from
    read_dimacs_comments stripped of surrounding whitespace. A path ending in `.gz`, `.xz` or
    `.bz2` gets that compression. The write is atomic: a temp file beside `path` replaces it only
    once complete.
    """
    items = {**(comments or {}), FINGERPRINT_KEY: formula.fingerprint}
    for key, value in items.items():
        if not re.fullmatch(r"[^\s:]+", str(key)):
            raise SatbenchError(
                f"comments: key {_show(str(key))} must be non-empty, without whitespace or ':'"
            )
        if "\n" in str(value) or "\r" in str(value):
            raise SatbenchError(f"comments: value for {key!r} must not contain a line break")
    compress = _WRITERS.get(os.path.splitext(path)[1], lambda handle: handle)
    with (atomic_path(path) as temp, open(temp, "wb") as handle, compress(handle) as binary,
          io.TextIOWrapper(binary, encoding="utf-8", newline="\n") as out):
        for key, value in items.items():
            out.write(f"c {key}: {value}\n")
        out.write(f"p {formula.form} {formula.n_vars} {formula.n_clauses}\n")
        for clause in formula.clauses:
            out.write(" ".join(map(str, clause)) + " 0\n")

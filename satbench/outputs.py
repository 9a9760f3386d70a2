"""Check output locations before any work starts, so a bad --out never costs a finished run.

Each check names the flag and the path, and creates nothing: a writable directory is shown
writable by creating and removing a probe file in it, the way atomic writes create theirs. That
is the only test that also holds for root, read-only mounts and ACLs (os.access does not).
"""

import os
from pathlib import Path

from satbench.atomic import create_temp_beside
from satbench.errors import SatbenchError


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def _check_can_create_in(directory: Path, flag: str, path: Path) -> None:
    """`directory` exists: it must be a directory we can create files in."""
    if not directory.is_dir():
        raise SatbenchError(f"{flag}: {path}: {directory} is a file, not a directory")
    try:
        os.unlink(create_temp_beside(directory / "satbench-probe"))
    except OSError as error:
        raise SatbenchError(f"{flag}: {path}: cannot create a file in {directory} "
                            f"({error.strerror or error})") from None


def check_output_file(path, flag: str = "--out") -> None:
    """`path` can be written as a file: it is no directory, and its directory can be made."""
    path = Path(path)
    if path.is_dir():
        raise SatbenchError(f"{flag}: {path} is a directory; expected a file name")
    _check_can_create_in(_nearest_existing(path.parent), flag, path)


def check_output_dir(path, flag: str = "--out") -> None:
    """`path` is, or can be made, a directory that files can be written in."""
    path = Path(path)
    existing = _nearest_existing(path)
    if existing == path and not path.is_dir():
        raise SatbenchError(f"{flag}: {path} is a file; expected a directory")
    _check_can_create_in(existing, flag, path)

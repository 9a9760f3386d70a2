"""Atomic file writes: a temp file in the target's directory, then os.replace.

An interrupted or failed write never leaves a partial file, and never clobbers the old one. The
temp file is created with mode 0666 minus the user's umask, as open() would create the file, so
colleagues on a shared server can read what satbench writes exactly when they could read any other
file of the user's (tempfile.mkstemp would make it 0600).
"""

import contextlib
import os
import secrets
from pathlib import Path

from satbench.errors import SatbenchError


def create_temp_beside(path: Path) -> Path:
    """Create an empty, uniquely named hidden file in `path`'s directory (umask applies)."""
    while True:
        temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return temp
        except FileExistsError:  # another writer drew the same name: draw again
            continue


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it vanishes."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = create_temp_beside(path)
    except OSError as error:
        raise SatbenchError(f"{path}: cannot write here ({error.strerror or error})") from None
    try:
        yield temp
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)

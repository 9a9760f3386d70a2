"""Claims on runs, so that sweeps sharing a results directory never train the same run twice.

A claim is an exclusive flock on `claims/<run key>.lock` in the store. The kernel drops it when its
process ends, however it ends (Ctrl-C, an error, SIGKILL), so a claim never outlives its owner:
there are no stale claims to notice or clean up. Releasing a claim removes its file; a file left
by a killed process is empty and is taken over by the next claim on its key.

A claim says who trains a run, not whether it is stored: whoever takes one must look again at the
store, since the run may have been stored by the claim's previous holder. Where the system has no
flock (Windows), every claim is granted: sweeps there may train a run twice, and store it once.
"""

import contextlib
import os
import time
from pathlib import Path

try:
    import fcntl
    import resource
except ImportError:  # Windows
    fcntl = resource = None

CLAIMS_DIR = "claims"
POLL_SECONDS = 0.2  # between tries on a claim held elsewhere, so that Ctrl-C stays responsive


def claims_dir(directory) -> Path:
    return Path(directory) / CLAIMS_DIR


def claims_at_once() -> int:
    """How many claims one process holds at a time: each is an open file, so a quarter of the
    limit on them (256 on macOS by default, 1024 on Linux), and no more than 512."""
    if resource is None:
        return 512
    return max(1, min(512, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 4))


class Claim:
    """A held claim on one run key; release() gives it up (once; again is a no-op)."""

    def __init__(self, path: Path, fd: int | None):
        self.path, self.fd = path, fd

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # while still locked: a waiter then sees the file was replaced
        os.close(self.fd)
        self.fd = None


def try_claim(directory, key: str) -> Claim | None:
    """The claim on run `key`, or None while another live process holds it."""
    path = claims_dir(directory) / f"{key}.lock"
    if fcntl is None:
        return Claim(path, None)
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
        except FileNotFoundError:  # claims/ was removed in between: make it again
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        # The holder may have released it (removing the file) just before we locked: our lock
        # is then on a file nobody else can open, so take the claim on the path again.
        try:
            current = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            current = False
        if current:
            return Claim(path, fd)
        os.close(fd)


def wait_for_claim(directory, key: str) -> None:
    """Return once no other process holds the claim on `key` (it stored the run, or ended)."""
    while (claim := try_claim(directory, key)) is None:
        time.sleep(POLL_SECONDS)
    claim.release()


def remove_claims_dir(directory) -> None:
    """Remove claims/ once it is empty; another process still holding claims keeps it."""
    with contextlib.suppress(OSError):
        os.rmdir(claims_dir(directory))

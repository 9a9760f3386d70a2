"""Training runs on a fixed number of torch intra-op threads, whatever the machine or the caller.

Why: a float sum split over k threads rounds differently from one split over j threads, and a
ReLU network amplifies such round-off into visibly different weights. So the thread count is part
of the computation, like the seed. satbench trains and evaluates every model on TRAINING_THREADS
threads and gets its parallelism from running several models at once (worker processes, or the
batched trainer), never from splitting one model's arithmetic. A single thread also cannot stall
waiting for a sibling thread that a busy machine has descheduled, so a loaded machine slows
training down in proportion, not by an order of magnitude.
"""

import contextlib

import torch

TRAINING_THREADS = 1


@contextlib.contextmanager
def training_threads(threads: int = TRAINING_THREADS):
    """Run the block on `threads` torch intra-op threads, then restore the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)

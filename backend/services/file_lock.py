"""Files on disk and the rows that point at them change together only under this lock.

An upload's files go into place before its row is committed (a slow disk must not hold the
database's write turn). Whatever removes files for want of a row (the start-up sweep, deleting a
prediction whose image nobody else uses) could otherwise take a file whose row is a moment from
committing, in this worker or a sibling: an acknowledged photo with no image. So placing holds the
lock shared, from the first file to the commit, and removing holds it exclusive, from reading which
rows exist to the last unlink.

It is an flock() of a file in data_dir, so it spans every worker process of that data_dir. Each
holder opens its own descriptor, which flock() treats as a separate holder: threads of one
process exclude each other as processes do. A remover first takes a gate that placers pass
through, so a steady stream of overlapping uploads cannot keep a delete waiting for ever.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from backend.config import Settings


@contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing the descriptor lets go of its lock


def _paths(settings: Settings) -> tuple[Path, Path]:
    return settings.data_dir / "files.gate", settings.data_dir / "files.lock"


@contextmanager
def placing(settings: Settings) -> Iterator[None]:
    """Hold from putting an upload's files in place until its row is committed (or not)."""
    gate, lock = _paths(settings)
    with ExitStack() as held:
        with _flock(gate, fcntl.LOCK_SH):  # waits while a remover is queued or at work
            held.enter_context(_flock(lock, fcntl.LOCK_SH))
        yield


@contextmanager
def placing_if_free(settings: Settings) -> Iterator[bool]:
    """placing() without waiting: yields False at once (holding nothing) when a remover holds the lock
    or waits for it, else True, holding it shared until the block ends."""
    gate, lock = _paths(settings)
    with ExitStack() as held:
        try:
            with _flock(gate, fcntl.LOCK_SH | fcntl.LOCK_NB):
                held.enter_context(_flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB))
            free = True
        except BlockingIOError:  # the descriptor whose lock was refused is closed already
            free = False
        yield free


@contextmanager
def removing(settings: Settings) -> Iterator[None]:
    """Hold from reading which files rows still use until the last unlink."""
    gate, lock = _paths(settings)
    with _flock(gate, fcntl.LOCK_EX), _flock(lock, fcntl.LOCK_EX):
        yield

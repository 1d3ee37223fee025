"""Upload bytes held in memory, bounded per server process.

Why (#28 Medium 5): each upload in flight could keep up to the per-file cap in memory (the form
reader's in-memory parts, the raw-body and Open Inference readers), with nothing bounding their
sum: 300 stalled 5 MB /fashion-mnist uploads added 1.7 GB. Every reader now reserves the bytes it
keeps from one UploadMemory per process as they arrive; when the reservation is refused a file part
continues on disk in data_dir/incoming (decoding reads it from there), and a body that has to be in
memory whole (the Open Inference Protocol's) gets a 503 with Retry-After.

A request's reservation is a Lease: given back when its form is cleaned up (every route does, in a
`finally`), when a reader fails (client gone, cancelled, refused), and, should both be missed, when
the lease is garbage-collected. Taking is a lock and an addition, never a wait: the event loop
never blocks on it.
"""

from __future__ import annotations

import threading
import weakref
from functools import lru_cache

from backend.core.config import Settings


class UploadMemory:
    """Bytes of upload bodies kept in memory by all requests of this process together."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self._lock = threading.Lock()

    def lease(self) -> Lease:
        return Lease(self)

    def _take(self, held: list[int], size: int) -> bool:
        with self._lock:
            if self.in_use + size > self.capacity:
                return False
            self.in_use += size
            held[0] += size
            return True

    def _give(self, held: list[int], size: int | None = None) -> None:
        with self._lock:
            size = held[0] if size is None else min(size, held[0])
            held[0] -= size
            self.in_use -= size


class Lease:
    """One request's share of an UploadMemory."""

    def __init__(self, pool: UploadMemory) -> None:
        self.pool = pool
        self._held = [0]  # a cell, so the finalizer can give it back without keeping the lease alive
        self._finalizer = weakref.finalize(self, pool._give, self._held)

    @property
    def held(self) -> int:
        return self._held[0]

    def take(self, size: int) -> bool:
        """Reserve size more bytes; False (and nothing reserved) when the process has no room."""
        return self.pool._take(self._held, size)

    def give_back(self, size: int) -> None:
        """Some of the bytes are no longer in memory (a part went to disk)."""
        self.pool._give(self._held, size)

    def release(self) -> None:
        """Everything held; safe to call again (and after, take reserves anew)."""
        self.pool._give(self._held)


@lru_cache
def _pool(capacity: int) -> UploadMemory:
    return UploadMemory(capacity)


def upload_memory(settings: Settings) -> UploadMemory:
    """The process's budget for the configured size (one per size: tests build apps with several)."""
    return _pool(int(settings.upload_memory_mb * 1024 * 1024))


def default_pool() -> UploadMemory:
    """The budget at the default size, for readers called without one."""
    return _pool(int(Settings.model_fields["upload_memory_mb"].default * 1024 * 1024))

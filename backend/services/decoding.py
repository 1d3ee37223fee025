"""Decoding uploads under a memory budget: one image at a time per request, a cap on the pixels
one request may decode, and a server-wide budget on the bytes of full-size decoding in flight.

Why: only JPEG decodes at reduced scale. A 1.6 KB lossless WebP of 6324×6324 costs 610 MB while
it decodes; sixteen in one request used to be held at once (3.1 GB) and a few requests exhausted
the machine. Each decode's peak is now predicted from the header (ml.shrink.decode_cost) and
reserved from a per-process budget before decoding starts; what is kept afterwards is at most
639×639 per image. Worst cases are written down in docs/decoding.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from backend.core.config import Settings
from backend.core.errors import ImageTooLarge, ServiceBusy
from ml import preprocess, shrink

SMALL_DECODE = 1 << 20  # bytes: decodes below this (a phone JPEG at 1/8 scale) skip the budget's lock
TRIM_FROM = 32 << 20  # after a decode this large the allocator is asked to return freed memory


class DecodeBudget:
    """Bytes of full-size decoding in flight in this process. A decode waits (in its worker thread,
    never on the event loop) for room, at most wait_seconds, then its file gets a 503."""

    def __init__(self, capacity: int, wait_seconds: float) -> None:
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self.in_use = 0
        self._room = threading.Condition()

    @contextmanager
    def hold(self, cost: int):
        if cost < SMALL_DECODE:
            yield
            return
        with self._room:
            if not self._room.wait_for(lambda: self.in_use + cost <= self.capacity, self.wait_seconds):
                raise ServiceBusy("the server is busy decoding other large images; try again in a moment")
            self.in_use += cost
        try:
            yield
        finally:
            with self._room:
                self.in_use -= cost
                self._room.notify_all()
            if cost >= TRIM_FROM:
                _release_freed_memory()


@lru_cache
def server_budget(capacity: int, wait_seconds: float) -> DecodeBudget:
    """One budget per process for each configured size (tests build apps with different settings)."""
    return DecodeBudget(capacity, wait_seconds)


class RequestPixels:
    """Pixels one request has decoded so far: sixteen images at the per-image cap would be minutes
    of CPU; past the request's cap the remaining files are refused, each with its reason."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, pixels: int, name: str) -> None:
        if self.used + pixels > self.limit:
            raise ImageTooLarge(f"“{name}” would take this message past {self.limit:,} decoded pixels; "
                                "send it in another message")
        self.used += pixels


def decode_bounded(source: bytes | BinaryIO | str | Path, settings: Settings, draft_size: int,
                   name: str = "image", pixels: RequestPixels | None = None) -> Image.Image:
    """preprocess.open_image under the budgets: header read and checked, decode cost predicted,
    pixels charged to the request, room reserved, decoded, full-size buffers freed before the room
    is given back. Raises ml.UnreadableImage for what is not an image, ImageTooLarge, ServiceBusy."""
    header = preprocess.draft(preprocess.read_header(source, max_pixels=settings.max_pixels), draft_size)
    cost = shrink.decode_cost(header)
    budget = server_budget(settings.decode_budget_mb << 20, settings.decode_wait_seconds)
    if cost > budget.capacity:
        raise ImageTooLarge(f"“{name}” would need {cost >> 20:,} MB to decode; the limit is "
                            f"{budget.capacity >> 20:,} MB (send a smaller or JPEG image)")
    if pixels is not None:
        pixels.charge(header.size[0] * header.size[1], name)
    with budget.hold(cost):
        try:
            return preprocess.decode(header, draft_size)
        finally:
            header.close()  # decode returned a new image; this frees the decoder's full-size buffers
            del header


@lru_cache(maxsize=1)
def _malloc_trim():
    path = ctypes.util.find_library("c")
    libc = ctypes.CDLL(path) if path else None
    return getattr(libc, "malloc_trim", None)


def _release_freed_memory() -> None:
    """glibc keeps large freed blocks in its arenas; malloc_trim hands them back to the system, so a
    burst of large decodes does not leave the process hundreds of MB larger for good."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)

"""Whether a request's image work runs on the event loop or in the thread pool.

A hop to the thread pool and back cost about 0.23 ms of CPU a request under load here (the GIL
handed over and two wake-ups): for the 15 KB benchmark photo, whose whole classification costs
about 1.5 ms, that was 17-20% of POST /fashion-mnist's throughput (benchmarks/serve.py). Blocking
the loop is fine only for short, bounded work, so only a small baseline JPEG is classified there:
held in memory, at most 192 KiB and 2 megapixels (decoded at reduced scale), which takes at most
about 4 ms here (1000×1000: 2.2-3.7 ms). Everything else, its header included, is read in a thread:
a PNG's text chunks are inflated while its header is read, a progressive JPEG may carry any number
of scans, and a phone photo is big; there the hop is noise.

The chat send and POST /api/v1/predictions follow the same rule for a request of one such photo
(backend.services.predictions.prepare_inline); on SQLite their commit is made on the loop too when it
needs no waiting (backend.loop_writes), else in a thread. In the thread the
check and conversion cost about twice the CPU they cost on the loop under load (16 connections, one
worker: 1.5 against 0.7 ms); chat sends, loaded in turn with the tree before, served 1.15× (eight rounds).
"""

from __future__ import annotations

from PIL import Image

from backend.services.multipart import IncomingFile

INLINE_MAX_BYTES = 192 * 1024
INLINE_MAX_PIXELS = 2_000_000
JPEG_SIGNATURE = b"\xff\xd8\xff"


def header_may_be_read_on_loop(incoming: IncomingFile) -> bool:
    """In memory, small, and a JPEG by its first bytes: reading its header costs tens of microseconds."""
    return (incoming.data is not None and 0 < incoming.size <= INLINE_MAX_BYTES
            and incoming.data[:3] == JPEG_SIGNATURE)


def small_enough_for_loop(header: Image.Image) -> bool:
    """For a file header_may_be_read_on_loop let through: True when its header (uploads.read_header)
    is a baseline JPEG's that promises cheap decoding."""
    if header.format != "JPEG" or header.info.get("progressive"):
        return False
    width, height = header.size
    return width * height <= INLINE_MAX_PIXELS

"""Whether a request's image work runs on the event loop or in the thread pool.

A hop to the thread pool and back cost about 0.23 ms of CPU a request under load here (the GIL
handed over and two wake-ups): for the 15 KB benchmark photo, whose whole classification costs
about 1.5 ms, that was 17-20% of POST /fashion-mnist's throughput (benchmarks/serve.py). Blocking
the loop is fine only for short, bounded work, so the choice is made from the file's size and
header, before anything is decoded. What passes classifies in at most about 5 ms here (JPEG
1000×1000: 2.2-3.7 ms, decoded at reduced scale; PNG, GIF and WebP at 320×320: 2.9-4.6 ms);
anything bigger, a phone photo included, goes to a thread, where the hop is noise.
"""

from __future__ import annotations

from PIL import Image

from backend.services.multipart import IncomingFile

INLINE_MAX_BYTES = 192 * 1024
INLINE_MAX_PIXELS = {"JPEG": 2_000_000}  # JPEGs are decoded at 1/2 to 1/8 scale (draft mode)
INLINE_MAX_PIXELS_OTHER = 100_000  # decoded whole
INLINE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")


def small_enough_for_loop(incoming: IncomingFile, header: Image.Image) -> bool:
    """True for a file held in memory whose header (uploads.read_header) promises cheap decoding."""
    if incoming.data is None or incoming.size > INLINE_MAX_BYTES or header.format not in INLINE_FORMATS:
        return False
    width, height = header.size
    return width * height <= INLINE_MAX_PIXELS.get(header.format, INLINE_MAX_PIXELS_OTHER)

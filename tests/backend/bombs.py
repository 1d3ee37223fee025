"""Decompression bombs, made in memory: tiny files that decode huge (tests and benchmarks share them)."""

from __future__ import annotations

import io
import struct

from PIL import Image

BOMB_SIDE = 6324  # 39.99 megapixels: just under the default 40 MP cap per image


def lossless(fmt: str, side: int = BOMB_SIDE, mode: str = "RGB") -> bytes:
    """A uniform image of side×side pixels: 1.6 KB as lossless WebP, about 130 KB as PNG."""
    buf = io.BytesIO()
    options = {"lossless": True} if fmt == "WEBP" else {"optimize": True}
    Image.new(mode, (side, side), (250, 250, 250) if mode == "RGB" else 250).save(buf, fmt, **options)
    return buf.getvalue()


def gif_frames(frames: int) -> bytes:
    """A 1×1 GIF of `frames` frames (23 bytes each): Pillow walks every one to count them."""
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = (b"\x21\xf9\x04\x00\x00\x00\x00\x00"  # graphic control extension
             + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)  # image descriptor
             + b"\x02\x02\x44\x01\x00")  # LZW: clear, pixel 0, end
    return head + frame * frames + b"\x3b"

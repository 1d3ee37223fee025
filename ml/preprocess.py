"""Photo → Fashion-MNIST form, after the dataset's own conversion (Xiao, Rasul & Vollgraf 2017,
arXiv:1708.07747, section 2): trim edges close to the corner colour, resize the longest edge to
28, sharpen, extend the shortest edge to 28 centred, negate, 8-bit grayscale.

Everything after decoding works on a small array: JPEGs are decoded at reduced scale (draft
mode) and other images are shrunk first, so a 12-megapixel photo costs about what a thumbnail
does. Images already in Fashion-MNIST form (28×28 gray on a dark background) pass unchanged.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError

from ml.errors import UnreadableImage

SIZE = 28
WORK_SIZE = 112  # side the photo is shrunk to before trimming: 4× the output, enough detail
TRIM_TOLERANCE = 0.05  # of the largest RGB distance, as in the paper
MAX_PIXELS = 40_000_000  # decompression-bomb cap, checked from the header before decoding
DARK_BACKGROUND = 64  # a 28×28 gray image whose border mean is below this is already converted

ImageFile.LOAD_TRUNCATED_IMAGES = False


def open_image(source: bytes | BinaryIO | str | Path, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode an upload safely: size checked from the header, first frame, EXIF orientation."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        source = io.BytesIO(source)
    try:
        img = Image.open(source)
        width, height = img.size
        if width * height > max_pixels or width <= 0 or height <= 0:
            raise UnreadableImage(f"image is {width}×{height} pixels; the limit is {max_pixels:,}")
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        if img.format == "JPEG":
            img.draft("RGB", (WORK_SIZE, WORK_SIZE))  # decode at 1/2..1/8 scale
        img.load()
        return ImageOps.exif_transpose(img)
    except UnreadableImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"not a readable image: {exc}") from exc


def _flatten(img: Image.Image) -> Image.Image:
    """Any mode → RGB; transparency composited onto white (cut-outs are product shots on white)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() if arr.max() > 255 else 255.0
        img = Image.fromarray((arr * (255.0 / (top or 1))).clip(0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        img = Image.fromarray(((arr - lo) * (255.0 / ((hi - lo) or 1))).astype(np.uint8), "L")
    if img.mode == "P" or (img.mode in ("L", "RGB") and "transparency" in img.info):
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    return img.convert("RGB")


def is_fashion_mnist_form(img: Image.Image) -> bool:
    """28×28, grayscale, dark border: the dataset's own form, used as is."""
    if img.size != (SIZE, SIZE) or img.mode not in ("L", "I;16", "I", "F", "1"):
        return False
    arr = np.asarray(img.convert("L"), dtype=np.float32)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    return float(border.mean()) < DARK_BACKGROUND


def trim_to_content(rgb: np.ndarray, tolerance: float = TRIM_TOLERANCE) -> np.ndarray:
    """Crop away edges whose colour is within tolerance of the corners' (median) colour."""
    h, w, _ = rgb.shape
    corners = np.stack([rgb[0, 0], rgb[0, w - 1], rgb[h - 1, 0], rgb[h - 1, w - 1]]).astype(np.float32)
    background = np.median(corners, axis=0)
    distance = np.sqrt(((rgb.astype(np.float32) - background) ** 2).sum(axis=2))
    content = distance > tolerance * np.sqrt(3) * 255
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if len(rows) == 0:
        return rgb
    return rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def to_fashion_mnist(img: Image.Image) -> np.ndarray:
    """One image → uint8 [28, 28], white-ish garment on black like the dataset."""
    if is_fashion_mnist_form(img):
        return np.asarray(img.convert("L"), dtype=np.uint8).copy()
    img = _flatten(img)
    if max(img.size) > WORK_SIZE:
        img = img.copy()
        img.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BOX, reducing_gap=2.0)
    rgb = trim_to_content(np.asarray(img))
    gray = Image.fromarray(rgb, "RGB").convert("L")
    w, h = gray.size
    scale = SIZE / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = gray.resize(size, Image.Resampling.BOX)
    small = small.filter(ImageFilter.UnsharpMask(radius=1, percent=100, threshold=0))
    canvas = Image.new("L", (SIZE, SIZE), 255)
    canvas.paste(small, ((SIZE - size[0]) // 2, (SIZE - size[1]) // 2))
    return 255 - np.asarray(canvas, dtype=np.uint8)

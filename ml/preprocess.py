"""Photo → Fashion-MNIST form, after the dataset's own conversion (Xiao, Rasul & Vollgraf 2017,
arXiv:1708.07747, section 2): trim edges close to the corner colour, resize the longest edge to
28, sharpen, extend the shortest edge to 28 centred, negate, 8-bit grayscale.

Everything after decoding works on a small array: JPEGs are decoded at reduced scale (draft
mode) and other images are shrunk first, so a 12-megapixel photo costs about what a thumbnail
does. Images already in Fashion-MNIST form (28×28 gray on a dark background) pass unchanged.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from struct import error as struct_error
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError

from ml import shrink
from ml.errors import UnreadableImage
from ml.fast_jpeg import decode_drafted

SIZE = 28
# JPEGs are decoded at the smallest DCT scale still WORK_SIZE on the long side (1/8 for a 400×534 photo:
# 50×67), and anything from twice that is shrunk to it first: 2-4× the output's detail, at the cost of
# a thumbnail whatever the photo's size. The photo graph is adapted on photos converted this way (a
# 112 px working image got no more photos right: docs/performance.md).
WORK_SIZE = 56
TRIM_TOLERANCE = 0.05  # of the largest RGB distance, as in the paper
MAX_PIXELS = 40_000_000  # decompression-bomb cap, checked from the header before decoding
DARK_BACKGROUND = 64  # a 28×28 gray image whose border mean is below this is already converted
RASTER_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF", "AVIF")

_LEVELS = np.arange(256, dtype=np.float32)  # the 8-bit channel values, for the trim's lookup table
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

ImageFile.LOAD_TRUNCATED_IMAGES = False
try:  # HEIC/HEIF photos from phones, when pillow-heif is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover
    pass
Image.init()  # register every plugin now, so the allowed-format list below is complete
ALLOWED_DECODERS = [f for f in RASTER_FORMATS if f in Image.ID]


def open_image(
    source: bytes | BinaryIO | str | Path,
    max_pixels: int = MAX_PIXELS,
    draft_size: int = WORK_SIZE,
    formats: tuple[str, ...] | None = RASTER_FORMATS,
) -> Image.Image:
    """Decode an upload safely: only raster formats we expect (no EPS, PDF, SVG...), size
    checked from the header before decoding, first frame, EXIF orientation applied.

    JPEGs are decoded at the smallest DCT scale still at least draft_size on each side. The
    returned image's .format names the file's format and .info["source_size"] its full size.
    """
    return decode(read_header(source, max_pixels, formats), draft_size)


def read_header(
    source: bytes | BinaryIO | str | Path,
    max_pixels: int = MAX_PIXELS,
    formats: tuple[str, ...] | None = RASTER_FORMATS,
) -> Image.Image:
    """The first half of open_image: format and size from the header, checked, nothing decoded
    yet (tens of microseconds), so a caller can decide where the decoding should run."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise UnreadableImage("the file is empty", "empty")
        source = io.BytesIO(source)
    try:
        allowed = ALLOWED_DECODERS if formats is RASTER_FORMATS else [f for f in formats or () if f in Image.ID]
        img = Image.open(source, formats=allowed or None)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnreadableImage("not an image format we can read", "unidentified") from exc
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(str(exc), "too_large") from exc
    width, height = img.size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise UnreadableImage(
            f"the image is {width}×{height} pixels; the limit is {max_pixels:,} pixels", "too_large"
        )
    img.info["source_size"] = (width, height)  # draft() changes .size; decode reports this one
    return img


def draft(img: Image.Image, draft_size: int = WORK_SIZE) -> Image.Image:
    """JPEG: set the smallest DCT scale whose sides still reach draft_size on the long side, so
    .size becomes the size decode() will produce (Pillow ignores a second call). Other formats:
    unchanged."""
    if img.format == "JPEG":
        width, height = img.info.get("source_size", img.size)
        scale = draft_size / max(width, height)
        img.draft("RGB", (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))))
    return img


def decode(img: Image.Image, draft_size: int = WORK_SIZE) -> Image.Image:
    """The second half of open_image: decode an image read_header returned (see open_image).
    Never counts frames (Pillow walks every frame of a GIF to count them: 2 s for 228k tiny ones);
    the first frame is the one the header opened. A large decoded image is brought down to
    shrink.KEEP_LONG_SIDE a strip at a time, so no second full-size copy is made (ml.shrink)."""
    width, height = img.info.get("source_size", img.size)
    try:
        source_format, fast = img.format, None
        draft(img, draft_size)
        if source_format == "JPEG":
            fast = decode_drafted(img)  # in memory: libjpeg-turbo without Pillow's overhead
        if fast is None:
            img.load()
        else:
            img = fast
        if shrink.needs_shrink(img):
            swapped = shrink.swaps_sides(img)
            img = shrink.shrink_loaded(img, flatten_to_rgb)
        else:
            loaded = img.size
            img = ImageOps.exif_transpose(img)
            swapped = img.size != loaded
        img.format = source_format
        # the photo's own size, upright, whatever scale it was decoded at
        img.info["source_size"] = (height, width) if swapped else (width, height)
        return img
    except Image.DecompressionBombError as exc:
        raise UnreadableImage(str(exc), "too_large") from exc
    except (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, struct_error) as exc:
        raise UnreadableImage(f"the image is damaged or truncated ({exc})", "broken") from exc


def flatten_to_rgb(img: Image.Image) -> Image.Image:
    """Any mode → RGB; transparency composited onto white (cut-outs are product shots on white).
    An RGB image is returned as it is, not copied."""
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
    return img if img.mode == "RGB" else img.convert("RGB")


def is_fashion_mnist_form(img: Image.Image) -> bool:
    """28×28, grayscale, dark border: the dataset's own form, used as is (a gray image saved as RGB
    too: its three channels equal)."""
    if img.size != (SIZE, SIZE) or img.mode not in ("L", "I;16", "I", "F", "1", "RGB"):
        return False
    if img.mode == "RGB":
        rgb = np.asarray(img)
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            return False
    arr = np.asarray(img.convert("L"), dtype=np.float32)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    return float(border.mean()) < DARK_BACKGROUND


def trim_to_content(rgb: np.ndarray, tolerance: float = TRIM_TOLERANCE) -> np.ndarray:
    """Crop away edges whose colour is within tolerance of the corners' (median) colour.
    Squared distances against the squared cut (no square root), the median of four as the mean of
    the middle two, and each channel's squared distance looked up by pixel value from a 256-entry
    table: 4.3× faster than the first version, and exact (every term is a half-integer squared, so
    float32 holds the sums exactly); the same crop on all 3,409 shared photos. Each channel's table
    is a contiguous row read with take(): 57 → 42 µs on the benchmark photo's 100×134 pixels."""
    middle = np.sort(_corners(rgb), axis=0)[1:3]
    background = (middle[0] + middle[1]) * np.float32(0.5)  # what .mean(axis=0) gives, 2 µs sooner
    squared = (_LEVELS - background[:, None]) ** 2  # [3, 256]: squared distance by channel value
    distance = squared[0].take(rgb[..., 0]) + squared[1].take(rgb[..., 1]) + squared[2].take(rgb[..., 2])
    content = distance > np.float32(3 * (tolerance * 255) ** 2)
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if len(rows) == 0:
        return rgb
    return rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def work_size(size: int = SIZE) -> int:
    """The working image's long side (and the JPEG draft size) for an output of size×size."""
    return WORK_SIZE * size // SIZE


def upsample(images: np.ndarray, size: int = SIZE) -> np.ndarray:
    """uint8 [..., 28, 28] → [..., size, size], every pixel a block: how a 56-px graph takes an image
    already in Fashion-MNIST form (ml.model.widen_stem). At 28 the images themselves."""
    k = size // images.shape[-1]
    return images if k == 1 else images.repeat(k, axis=-2).repeat(k, axis=-1)


def to_fashion_mnist(img: Image.Image, size: int = SIZE) -> np.ndarray:
    """One image → uint8 [size, size], light garment on black like the dataset (size 56: the same
    conversion at twice the detail, for a 56-px photo graph; open such photos at draft work_size(56))."""
    if is_fashion_mnist_form(img):
        pixels = np.asarray(img.convert("L"), dtype=np.uint8)
        return pixels.copy() if size == SIZE else upsample(pixels, size)
    work = work_size(size)
    rgb = flatten_to_rgb(img)
    if max(rgb.size) >= 2 * work:
        if rgb is img:  # never shrink the caller's image
            rgb = rgb.copy()
        rgb.thumbnail((work, work), Image.Resampling.BOX, reducing_gap=2.0)
    full = np.asarray(rgb)
    light_background = _corner_luma(full) >= 128
    gray = Image.fromarray(trim_to_content(full), "RGB").convert("L")
    w, h = gray.size
    scale = size / max(w, h)
    fitted = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = gray.resize(fitted, Image.Resampling.BOX)
    small = small.filter(ImageFilter.UnsharpMask(radius=size // SIZE, percent=100, threshold=0))
    # extended to size×size in numpy (two Pillow calls fewer than Image.new and paste)
    out = np.full((size, size), 255 if light_background else 0, dtype=np.uint8)
    left, top = (size - fitted[0]) // 2, (size - fitted[1]) // 2
    out[top : top + fitted[1], left : left + fitted[0]] = np.asarray(small)
    # negate product shots on light backgrounds; a dark background is already the dataset's way
    return 255 - out if light_background else out


def _corners(rgb: np.ndarray) -> np.ndarray:
    """The four corner pixels, float32 [4, 3]: top left, top right, bottom left, bottom right. A
    strided view where the image is at least 2×2 (a gather with index lists cost three times as much)."""
    h, w, _ = rgb.shape
    if h > 1 and w > 1:
        return rgb[:: h - 1, :: w - 1].reshape(4, 3).astype(np.float32)
    return rgb[[0, 0, h - 1, h - 1], [0, w - 1, 0, w - 1]].astype(np.float32)


def _corner_luma(rgb: np.ndarray) -> float:
    # the float32 sum over 4, as .mean() computes it, without mean()'s Python wrapper (5 µs)
    return float((_corners(rgb) @ _LUMA).sum()) / 4

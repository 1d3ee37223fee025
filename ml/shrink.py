"""Bounded decoding: what a decode will cost before it runs, and a large image brought down to a
working size without ever holding a second full-size copy.

Why: only JPEG can be decoded at reduced scale (draft). A lossless WebP or PNG of 6324×6324 is
1.6-130 KB on the wire and 160 MB once decoded; converting that to RGBA, compositing it on white and
copying it for a thumbnail took 610 MB per image before this module. Here the decoded image is
converted and box-reduced a strip of rows at a time, so the only full-size buffer is the decoder's
own, which decode_cost() predicts from the header so a caller can budget it before decoding.
"""

from __future__ import annotations

from PIL import ExifTags, Image

# long side kept (at least) after decoding a large image: the chat's 320 px thumbnail and 6× the model's
# 56 px working size; images are shrunk from twice this, so one kept is at most 639×639 (1.6 MB)
KEEP_LONG_SIDE = 320
STRIP_PIXELS = 1 << 21  # pixels converted at a time (8 MB as RGBA)

# bytes per pixel Pillow stores for a mode (RGB and LA are padded to 4)
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# full-size buffers held at once while a format decodes: Pillow's image, plus libwebp's canvases and
# the bytes Pillow copies them through (WebP: 610 MB measured at 40 MP); libheif's planes and the
# bytes Pillow copies (HEIF/AVIF: not measured, assumed 3)
_COPIES = {"WEBP": 4, "HEIF": 3, "AVIF": 3}
_INTEGER_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}


def decode_cost(img: Image.Image) -> int:
    """Peak bytes of decoding img (opened, drafted if JPEG, not loaded): its decoded size times the
    full-size copies its format's decoder holds; a progressive JPEG also keeps every DCT
    coefficient of the full-size image (2 bytes each), whatever scale it is decoded at."""
    width, height = img.size
    cost = width * height * _BYTES_PER_PIXEL.get(img.mode, 4) * _COPIES.get(img.format or "", 1)
    if img.format in ("JPEG", "MPO") and img.info.get("progressive"):
        full_w, full_h = img.info.get("source_size", img.size)
        cost += full_w * full_h * 2 * len(img.getbands())
    return cost


def needs_shrink(img: Image.Image) -> bool:
    return max(img.size) >= 2 * KEEP_LONG_SIDE


def swaps_sides(img: Image.Image) -> bool:
    """Whether the image's EXIF orientation turns it a quarter (width and height swap)."""
    return img.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)


def shrink_loaded(img: Image.Image, flatten) -> Image.Image:
    """A loaded image reduced by the integer factor that leaves its long side at KEEP_LONG_SIDE
    or more (box average), upright per its EXIF orientation, with transparency composited on white
    by flatten (preprocess.flatten_to_rgb) one strip at a time. 16-bit and float images keep their
    mode (flatten needs the whole image's range; the small result is flattened later)."""
    orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    width, height = img.size
    factor = max(width, height) // KEEP_LONG_SIDE
    out_mode = "I" if img.mode in _INTEGER_MODES else img.mode if img.mode in ("I", "F") else "RGB"
    out = Image.new(out_mode, (-(-width // factor), -(-height // factor)))
    rows = max(factor, STRIP_PIXELS // width // factor * factor)
    for top in range(0, height, rows):
        strip = img.crop((0, top, width, min(height, top + rows)))
        if out_mode == "I":
            strip = strip.convert("I")
        elif out_mode == "RGB":
            strip = flatten(strip)
        out.paste(strip.reduce(factor), (0, top // factor))
    out.info = {k: v for k, v in img.info.items() if k not in ("transparency", "exif", "icc_profile")}
    method = _TRANSPOSE.get(orientation)
    return out.transpose(method) if method is not None else out

"""The in-memory JPEG path (ml.fast_jpeg) gives Pillow's pixels exactly, or steps aside for Pillow."""

import io

import numpy as np
import pytest
from PIL import Image

from ml import UnreadableImage, fast_jpeg, open_image, preprocess
from ml.photos import list_photos
from ml.preprocess import trim_to_content


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def _photo_like(size, seed=0, mode="RGB") -> Image.Image:
    """Smooth colour gradients and a noisy block: something the DCT scales have to work on."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)), ((xx + yy) % 256)], axis=-1)
    rgb[h // 4 : h // 2, w // 4 : w // 2] = rng.integers(0, 256, (h // 2 - h // 4, w // 2 - w // 4, 3))
    return Image.fromarray(rgb.astype(np.uint8), "RGB").convert(mode)


def _both_ways(data: bytes, monkeypatch) -> tuple[Image.Image, Image.Image]:
    fast = open_image(data)
    with monkeypatch.context() as patched:
        patched.setattr(preprocess, "decode_drafted", lambda img: None)  # Pillow decodes everything
        slow = open_image(data)
    return fast, slow


@pytest.mark.parametrize("size,mode,subsampling,progressive", [
    ((400, 534), "RGB", 2, False),  # the benchmark photo's shape, 4:2:0, 1/8 scale
    ((1000, 750), "RGB", 2, False),  # 1/8 scale, still twice the working size
    ((300, 225), "RGB", 0, False),  # 1/4 scale, 4:4:4
    ((641, 479), "RGB", 1, False),  # odd sides, 4:2:2
    ((90, 60), "RGB", 2, False),  # too small for a DCT scale: decoded whole
    ((500, 380), "L", 0, False),  # grayscale JPEG
    ((800, 600), "RGB", 2, True),  # progressive (decoded in a worker thread, never on the loop)
])
def test_same_pixels_as_pillow_at_the_same_scale(size, mode, subsampling, progressive, monkeypatch):
    data = _jpeg(_photo_like(size, mode=mode), quality=90, subsampling=subsampling, progressive=progressive)
    header = preprocess.read_header(data)
    header.draft("RGB", (preprocess.WORK_SIZE, preprocess.WORK_SIZE))
    assert fast_jpeg.decode_drafted(header) is not None  # the fast path was taken
    fast, slow = _both_ways(data, monkeypatch)
    assert (fast.mode, fast.size, fast.format) == (slow.mode, slow.size, slow.format)
    assert fast.info["source_size"] == slow.info["source_size"] == size
    assert np.array_equal(np.asarray(fast), np.asarray(slow))


def test_exif_orientation_is_kept(monkeypatch):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    fast, slow = _both_ways(_jpeg(_photo_like((400, 300)), exif=exif.tobytes()), monkeypatch)
    assert fast.size == slow.size == (75, 100)  # drafted at 1/4, shown portrait
    assert np.array_equal(np.asarray(fast), np.asarray(slow))


def test_cmyk_and_files_on_disk_are_left_to_pillow(tmp_path):
    cmyk = preprocess.read_header(_jpeg(_photo_like((300, 200), mode="CMYK")))
    assert fast_jpeg.decode_drafted(cmyk) is None
    path = tmp_path / "photo.jpg"
    path.write_bytes(_jpeg(_photo_like((300, 200))))
    assert fast_jpeg.decode_drafted(preprocess.read_header(path)) is None
    assert open_image(path).size == (75, 50)  # drafted at 1/4 by Pillow


def test_stray_bytes_before_a_marker_are_decoded_as_pillow_decodes_them(monkeypatch):
    """libjpeg warns about them and simplejpeg's strict mode raises; Pillow decodes such a file, and
    so must the fast path (it hands the file to Pillow), not refuse it as damaged."""
    data = _jpeg(_photo_like((400, 300)))
    at = data.index(b"\xff\xda")  # start of scan
    stray = data[:at] + b"\x00\x00" + data[at:]
    fast, slow = _both_ways(stray, monkeypatch)
    assert np.array_equal(np.asarray(fast), np.asarray(slow))


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_a_truncated_jpeg_in_memory_is_refused(cut):
    data = _jpeg(_photo_like((400, 534)))
    with pytest.raises(UnreadableImage) as info:
        open_image(data[: int(len(data) * cut)])
    assert info.value.reason == "broken"


def test_trim_matches_the_papers_rule_computed_plainly():
    """trim_to_content's lookup tables against the rule as written: content is farther from the
    corners' median colour than 5% of the largest RGB distance (255·√3), on noisy images where many
    pixels sit near the cut."""
    rng = np.random.default_rng(1)
    for _ in range(40):
        h, w = rng.integers(20, 140, 2)
        rgb = np.full((h, w, 3), rng.integers(0, 256, 3), dtype=np.uint8)
        rgb = np.clip(rgb.astype(int) + rng.integers(-14, 15, (h, w, 3)), 0, 255).astype(np.uint8)
        top, left = rng.integers(0, h // 2), rng.integers(0, w // 2)
        rgb[top : top + h // 3, left : left + w // 3] = rng.integers(0, 256, 3)
        corners = rgb[[0, 0, -1, -1], [0, -1, 0, -1]].astype(np.float64)
        background = np.median(corners, axis=0)
        distance = np.sqrt(((rgb.astype(np.float64) - background) ** 2).sum(axis=-1))
        content = distance > 0.05 * 255 * np.sqrt(3)
        rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
        expected = rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] if len(rows) else rgb
        assert np.array_equal(trim_to_content(rgb), expected)


def test_shared_photos_decode_the_same_either_way(photos_available, monkeypatch):
    for photo in list_photos("validation")[::8]:
        fast, slow = _both_ways(photo.path.read_bytes(), monkeypatch)
        assert np.array_equal(np.asarray(fast), np.asarray(slow)), photo.path.name

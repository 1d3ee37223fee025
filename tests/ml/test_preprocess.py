"""Photo → Fashion-MNIST conversion on made images of every awkward kind, and on real photos."""

import io

import numpy as np
import pytest
from PIL import Image

from ml import UnreadableImage, is_fashion_mnist_form, open_image, to_fashion_mnist
from ml.photos import list_photos


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _garment_on(background, size=(300, 200), garment=(20, 20, 20), mode="RGB"):
    img = Image.new(mode, size, background)
    img.paste(Image.new(mode, (size[0] // 3, size[1] // 2), garment), (size[0] // 3, size[1] // 4))
    return img


def _bright_fraction(arr):
    return float((arr > 128).mean())


def test_white_background_product_shot_becomes_light_garment_on_black():
    out = to_fashion_mnist(open_image(_encode(_garment_on((255, 255, 255)), "PNG")))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out[0, 0] < 10 and out[14, 14] > 200  # background black, dark garment negated to light


def test_trim_and_longest_edge_is_28_centred():
    out = to_fashion_mnist(_garment_on((255, 255, 255), size=(600, 300)))
    rows = np.flatnonzero((out > 60).any(axis=1))
    cols = np.flatnonzero((out > 60).any(axis=0))
    # the garment (the trimmed content) fills the long edge and is centred on the short one
    assert cols[0] <= 1 and cols[-1] >= 26
    assert abs((rows[0] + rows[-1]) / 2 - 13.5) <= 1.5


def test_at_56_px_the_same_conversion_at_twice_the_detail(fashion_test):
    photo = _garment_on((255, 255, 255), size=(600, 300))
    small, large = to_fashion_mnist(photo), to_fashion_mnist(photo, 56)
    assert large.shape == (56, 56) and large.dtype == np.uint8
    # the same garment in the same place: the large one averaged over 2×2 blocks is the small one, near enough
    pooled = large.reshape(28, 2, 28, 2).astype(np.float32).mean(axis=(1, 3))
    assert np.abs(pooled - small).mean() < 12
    # an image already in the dataset's form is upsampled exactly (every pixel a 2×2 block)
    upsampled = to_fashion_mnist(Image.fromarray(fashion_test.images[0], "L"), 56)
    assert np.array_equal(upsampled[::2, ::2], fashion_test.images[0]) and np.array_equal(upsampled[1::2, 1::2], upsampled[::2, ::2])


def test_dark_background_is_not_negated():
    out = to_fashion_mnist(_garment_on((0, 0, 0), garment=(230, 230, 230)))
    assert out[0, 0] < 10 and out[14, 14] > 200


def test_fashion_mnist_form_is_used_unchanged(fashion_test):
    img = Image.fromarray(fashion_test.images[0], "L")
    assert np.array_equal(to_fashion_mnist(img), fashion_test.images[0])
    as_rgb = img.convert("RGB")  # the same gray image saved with three equal channels
    assert is_fashion_mnist_form(as_rgb) and np.array_equal(to_fashion_mnist(as_rgb), fashion_test.images[0])
    tinted = np.asarray(as_rgb).copy()
    tinted[..., 0] //= 2
    assert not is_fashion_mnist_form(Image.fromarray(tinted, "RGB"))


def test_transparency_is_composited_onto_white():
    img = Image.new("RGBA", (200, 200), (0, 0, 0, 0))  # transparent black: must not read as black
    img.paste(Image.new("RGBA", (80, 120), (30, 30, 30, 255)), (60, 40))
    out = to_fashion_mnist(open_image(_encode(img, "PNG")))
    assert out[0, 0] < 10 and out[14, 14] > 200


def test_palette_with_transparency():
    img = _garment_on((255, 255, 255)).convert("P")
    img.info["transparency"] = 0
    out = to_fashion_mnist(open_image(_encode(img, "PNG", transparency=0)))
    assert out.shape == (28, 28)


def test_exif_orientation_is_applied():
    tall = _garment_on((255, 255, 255), size=(200, 400), garment=(10, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    img = open_image(_encode(tall, "JPEG", exif=exif.tobytes()))
    assert img.size[0] > img.size[1]  # shown landscape
    assert img.info["source_size"] == (400, 200)  # the full size, upright too


def test_a_small_decode_still_knows_the_photos_full_size():
    img = open_image(_encode(_garment_on((255, 255, 255), size=(2000, 1500)), "JPEG"), draft_size=112)
    assert max(img.size) < 500 and img.info["source_size"] == (2000, 1500)


def test_cmyk_jpeg():
    out = to_fashion_mnist(open_image(_encode(_garment_on((255, 255, 255)).convert("CMYK"), "JPEG")))
    assert out[14, 14] > 150


def test_sixteen_bit_grayscale():
    arr = np.full((120, 120), 65535, dtype=np.uint16)
    arr[30:90, 40:80] = 2000
    img = Image.fromarray(arr)
    out = to_fashion_mnist(open_image(_encode(img, "PNG")))
    assert out[14, 14] > 150 and out[0, 0] < 10


def test_animated_gif_uses_first_frame():
    first = _garment_on((255, 255, 255)).convert("P")
    second = Image.new("RGB", (300, 200), (0, 0, 0)).convert("P")
    data = _encode(first, "GIF", save_all=True, append_images=[second])
    img = open_image(data)
    assert np.array_equal(to_fashion_mnist(img), to_fashion_mnist(open_image(_encode(first, "GIF"))))


def test_jpeg_is_decoded_at_reduced_scale():
    img = open_image(_encode(_garment_on((255, 255, 255), size=(2000, 1500)), "JPEG"))
    assert max(img.size) <= 1000  # draft mode: a fraction of the pixels decoded


@pytest.mark.parametrize("payload,reason", [
    (b"", "empty"), (b"this is not an image", "unidentified"), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "unidentified"),
])
def test_undecodable_bytes_raise_the_typed_error(payload, reason):
    with pytest.raises(UnreadableImage) as info:
        open_image(payload)
    assert info.value.reason == reason


def test_truncated_and_bomb_images_raise_the_typed_error():
    data = _encode(_garment_on((255, 255, 255)), "JPEG")
    with pytest.raises(UnreadableImage) as info:
        open_image(data[: len(data) // 2])
    assert info.value.reason == "broken"
    with pytest.raises(UnreadableImage) as info:
        open_image(_encode(Image.new("L", (3000, 3000)), "PNG"), max_pixels=1_000_000)
    assert info.value.reason == "too_large"


def test_real_photos_convert(photos_available):
    for photo in list_photos("validation")[::40][:8]:
        out = to_fashion_mnist(open_image(photo.path))
        assert out.shape == (28, 28) and out.dtype == np.uint8
        assert out.std() > 5, f"{photo.path.name} converted to a flat image"


def test_first_image_opened_in_a_fresh_process_from_a_file_without_extension(tmp_path):
    """The app's first upload is read from data_dir/incoming/<id>.part: decoders must be ready."""
    import subprocess
    import sys

    path = tmp_path / "upload.part"
    path.write_bytes(_encode(_garment_on((255, 255, 255)), "JPEG"))
    code = f"from ml import open_image; print(open_image({str(path)!r}).format)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "JPEG", out.stderr[-1000:]

"""Small images are classified on the event loop, big ones in the thread pool, with the same answers."""

import io

import numpy as np
from PIL import Image

from backend.services import offload, uploads
from backend.services.multipart import IncomingFile
from ml import open_image
from tests.conftest import jpeg_bytes


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _incoming(data: bytes, tmp_path) -> IncomingFile:
    return IncomingFile(field="file", filename="x", path=tmp_path / "x", size=len(data), data=data)


def _noise(size) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (*size[::-1], 3), dtype=np.uint8), "RGB")


def test_the_rule_reads_bytes_format_and_pixels(settings, tmp_path):
    def small(data):
        incoming = _incoming(data, tmp_path)
        return offload.small_enough_for_loop(incoming, uploads.read_header(incoming, settings))

    assert small(jpeg_bytes(size=(400, 534)))  # the benchmark's kind of photo
    assert small(jpeg_bytes(size=(1000, 1400)))  # decoded at 1/8 scale
    assert not small(jpeg_bytes(size=(1800, 1800)))  # over 2 megapixels, however small the file
    noisy = _encode(_noise((800, 800)), "JPEG", quality=95)
    assert len(noisy) > offload.INLINE_MAX_BYTES and not small(noisy)  # entropy decoding grows with the bytes
    assert small(_encode(Image.open(io.BytesIO(jpeg_bytes(size=(300, 300)))), "PNG"))
    assert not small(_encode(Image.new("RGB", (600, 600), "white"), "PNG"))  # 360,000 pixels decoded whole
    assert not small(_encode(Image.new("RGB", (200, 200), "white"), "TIFF"))  # not a format the rule knows
    on_disk = _incoming(jpeg_bytes(), tmp_path)
    on_disk.data = None  # past the form's memory budget: spooled to a file
    assert not offload.small_enough_for_loop(on_disk, open_image(jpeg_bytes()))


def test_both_paths_answer_as_the_classifier_does(client, classifier):
    engine = client.app.state.inference
    small = jpeg_bytes(size=(400, 534), colour=(150, 40, 40))
    big = _encode(Image.open(io.BytesIO(jpeg_bytes(size=(700, 900), colour=(40, 120, 40)))), "PNG")
    for data, inline in ((small, True), (big, False)):
        before = engine.inline_images
        r = client.post("/fashion-mnist", files={"file": ("p", data)})
        assert r.status_code == 200
        assert engine.inline_images - before == (1 if inline else 0)
        local = classifier.predict([open_image(data)])[0]
        assert r.json()["label"] == local.label
        assert max(abs(a - b) for a, b in zip(r.json()["probs"], local.probs, strict=True)) < 1e-6
    assert client.post("/fashion-mnist", files={"file": ("p.jpg", small[: len(small) // 2])}).status_code == 422

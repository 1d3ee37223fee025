"""Small images are classified on the event loop, big ones in the thread pool, with the same answers."""

import io

import numpy as np
import pytest
from PIL import Image

from backend.errors import BrokenImage
from backend.services import offload, uploads
from backend.services.multipart import IncomingFile
from ml import open_image
from tests.conftest import csrf_of, jpeg_bytes


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _incoming(data: bytes, tmp_path) -> IncomingFile:
    return IncomingFile(field="file", filename="x", path=tmp_path / "x", size=len(data), data=data)


def _noise(size) -> Image.Image:
    return Image.fromarray(np.random.default_rng(0).integers(0, 256, (*size[::-1], 3), dtype=np.uint8), "RGB")


def test_only_small_baseline_jpegs_are_classified_on_the_loop(settings, tmp_path):
    def small(data):
        incoming = _incoming(data, tmp_path)
        if not offload.header_may_be_read_on_loop(incoming):
            return False
        return offload.small_enough_for_loop(uploads.read_header(incoming, settings))

    assert small(jpeg_bytes(size=(400, 534)))  # the benchmark's kind of photo
    assert small(jpeg_bytes(size=(1000, 1400)))  # decoded at 1/8 scale
    assert not small(jpeg_bytes(size=(1800, 1800)))  # over 2 megapixels, however small the file
    noisy = _encode(_noise((800, 800)), "JPEG", quality=95)
    assert len(noisy) > offload.INLINE_MAX_BYTES and not small(noisy)  # entropy decoding grows with the bytes
    progressive = _encode(Image.open(io.BytesIO(jpeg_bytes())), "JPEG", progressive=True)
    assert not small(progressive)  # any number of scans
    assert not small(_encode(Image.open(io.BytesIO(jpeg_bytes(size=(300, 300)))), "PNG"))  # text chunks inflate in the header
    assert not small(_encode(Image.new("RGB", (200, 200), "white"), "TIFF"))
    junk = _incoming(b"\xff\xd8\xff" + b"not really a jpeg", tmp_path)
    assert offload.header_may_be_read_on_loop(junk)  # the signature alone lets the header be read...
    with pytest.raises(BrokenImage):  # ...which refuses it as any route does
        uploads.read_header(junk, settings)
    on_disk = _incoming(jpeg_bytes(), tmp_path)
    on_disk.data = None  # past the form's memory budget: spooled to a file
    assert not offload.header_may_be_read_on_loop(on_disk)


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
    assert client.post("/fashion-mnist", files={"file": ("p.jpg", b"\xff\xd8\xff" + b"junk")}).status_code == 422


def test_a_chat_send_or_api_post_of_one_small_photo_is_classified_on_the_loop(client, classifier):
    """One small JPEG: on the loop, with the classifier's answer, stored as any other; a PNG, two photos
    or a damaged JPEG take the thread pool's way or are refused as before."""
    engine = client.app.state.inference
    token = csrf_of(client)
    small = jpeg_bytes(size=(400, 534), colour=(150, 40, 40))
    png = _encode(Image.open(io.BytesIO(jpeg_bytes(size=(300, 300)))), "PNG")
    first = client.post("/c", data={"csrf_token": token}, files={"files": ("first.png", png)}, follow_redirects=False)
    url = first.headers["location"] + "/messages"
    local = classifier.predict([open_image(small)])[0]
    replies = []
    for files, inline in (([("files", ("a.jpg", small))], 1), ([("files", ("b.png", png))], 0),
                          ([("files", ("c.jpg", small)), ("files", ("d.jpg", small))], 0)):
        before = engine.inline_images
        r = client.post(url, data={"csrf_token": token}, files=files, headers={"HX-Request": "true"})
        assert r.status_code == 200 and r.text.count('class="reply"') == len(files)
        assert engine.inline_images - before == inline
        replies.append(r.text)
    assert f"<strong>{local.label}</strong>" in replies[0] and f"{local.confidence * 100:.0f}%" in replies[0]
    stored = client.get(first.headers["location"]).text
    assert "a.jpg" in stored and "b.png" in stored and stored.count('class="reply"') == 5

    broken = client.post(url, data={"csrf_token": token}, files={"files": ("x.jpg", small[: len(small) // 2])},
                         headers={"HX-Request": "true"})
    assert broken.status_code == 422 and "damaged" in broken.text
    assert client.get(first.headers["location"]).text.count('class="reply"') == 5  # nothing stored

    before = engine.inline_images
    api = client.post("/api/v1/predictions", files={"files": ("e.jpg", small)})
    assert api.status_code == 200 and engine.inline_images - before == 1
    answer = api.json()["results"][0]
    assert answer["label"] == local.label and client.get(f"/api/v1/predictions/{answer['id']}").status_code == 200

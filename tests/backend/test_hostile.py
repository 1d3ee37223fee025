"""Hostile and odd uploads on the chat and the API: a right answer or a clear 4xx, never a
5xx, nothing stored for refused files, nothing written outside the data dir."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from sqlmodel import Session, select

import ml  # noqa: F401  (registers the HEIF opener)
from backend.models import Prediction, Upload
from tests.conftest import csrf_of, jpeg_bytes


def _encode(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_bomb(width=60000, height=60000) -> bytes:
    """A tiny PNG that declares 3.6 gigapixels: refused from the header, never decoded."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")


def _garment(mode="RGB", size=(200, 260)):
    img = Image.new("RGB", size, (250, 250, 250))
    img.paste(Image.new("RGB", (size[0] // 2, size[1] // 2), (30, 40, 90)), (size[0] // 4, size[1] // 4))
    return img.convert(mode) if mode != "RGB" else img


def _exif_rotated():
    exif = Image.Exif()
    exif[0x0112] = 8
    return _encode(_garment(), "JPEG", exif=exif.tobytes())


def _palette_transparent():
    img = _garment().convert("P")
    return _encode(img, "PNG", transparency=0)


def _sixteen_bit():
    arr = np.full((100, 80), 60000, dtype=np.uint16)
    arr[20:80, 20:60] = 1000
    return _encode(Image.fromarray(arr), "PNG")


def _animated_gif():
    frames = [_garment().convert("P"), Image.new("RGB", (200, 260), "black").convert("P")]
    return _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


ACCEPTED = {
    "photo.jpg": jpeg_bytes(),
    "cmyk.jpg": _encode(_garment("CMYK"), "JPEG"),
    "sixteen.png": _sixteen_bit(),
    "palette.png": _palette_transparent(),
    "anim.gif": _animated_gif(),
    "photo.webp": _encode(_garment(), "WEBP"),
    "phone.heic": _encode(_garment(), "HEIF"),
    "rotated.jpg": _exif_rotated(),
    "strip.png": _encode(Image.new("L", (1, 20000), 255), "PNG"),
    "../../etc/passwd.png": _encode(_garment(), "PNG"),
    "<b>bold</b>.png": _encode(_garment(), "PNG"),
}
REFUSED = {
    "empty.jpg": (b"", 422),
    "random.jpg": (bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), 415),
    "truncated.jpg": (jpeg_bytes()[: len(jpeg_bytes()) // 2], 422),
    "truncated.png": (_encode(_garment(), "PNG")[:400], 422),
    "bomb.png": (png_bomb(), 422),
    "image.svg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>', 415),
    "page.html": (b"<!doctype html><script>alert(1)</script>", 415),
    "photo.pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", 415),
}


def _files_on_disk(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_odd_but_real_images_are_answered_on_api_and_chat(client, settings, name):
    r = client.post("/api/v1/predictions", files=[("files", (name, ACCEPTED[name], "image/png"))])
    assert r.status_code == 200, r.text
    entry = r.json()["results"][0]
    assert len(entry["probs"]) == 10 and "/" not in entry["filename"] and ".." not in entry["filename"].split("/")
    token = csrf_of(client)
    r = client.post("/c", data={"csrf_token": token}, files={"files": (name, ACCEPTED[name], "image/png")},
                    headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.headers.get("hx-location", "").startswith("/c/")
    served = client.get(f"/api/v1/predictions/{entry['id']}/image")
    assert served.headers["content-type"].startswith("image/") and "svg" not in served.headers["content-type"]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_hostile_files_get_a_clear_4xx_and_leave_nothing(client, settings, name):
    payload, status = REFUSED[name]
    before = _files_on_disk(settings.data_dir)
    r = client.post("/api/v1/predictions", files=[("files", (name, payload, "image/jpeg"))])
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    token = csrf_of(client)
    r = client.post("/c", data={"csrf_token": token}, files={"files": (name, payload, "image/jpeg")},
                    headers={"HX-Request": "true"})
    assert r.status_code == status and "bubble assistant error" in r.text
    r = client.post("/fashion-mnist", files={"file": (name, payload, "image/jpeg")})
    assert r.status_code == status
    with Session(client.app.state.db) as s:
        assert s.exec(select(Upload)).all() == [] and s.exec(select(Prediction)).all() == []
    assert _files_on_disk(settings.data_dir) == before


def test_long_text_too_many_files_and_missing_fields(client, settings):
    token = csrf_of(client)
    r = client.post("/c", data={"csrf_token": token, "text": "x" * 1_000_000}, headers={"HX-Request": "true"})
    assert r.status_code in (413, 422) and "too long" in r.text
    many = [("files", (f"{i}.jpg", b"x", "image/jpeg")) for i in range(settings.max_files + 1)]
    assert client.post("/api/v1/predictions", files=many).status_code == 413
    assert client.post("/c", data={"csrf_token": token}, files=many).status_code == 413
    assert client.post("/c", data={"csrf_token": token}, headers={"HX-Request": "true"}).status_code == 422
    assert client.post("/fashion-mnist").status_code == 422
    assert client.post("/fashion-mnist", content=b"--x\r\nbroken", headers={
        "content-type": "multipart/form-data; boundary=x"}).status_code == 422


def test_huge_body_is_refused_from_its_declared_length(client):
    r = client.post("/api/v1/predictions", content=b"0" * 10, headers={
        "content-type": "multipart/form-data; boundary=x", "content-length": str(1024 ** 3)})
    assert r.status_code == 413


def test_nothing_is_written_outside_the_data_dir(client, settings, tmp_path):
    outside_before = sorted(p for p in tmp_path.rglob("*") if settings.data_dir not in p.parents and p != settings.data_dir)
    client.post("/api/v1/predictions", files=[("files", ("../../../../tmp/evil.png", ACCEPTED["photo.jpg"], "image/png"))])
    outside_after = sorted(p for p in tmp_path.rglob("*") if settings.data_dir not in p.parents and p != settings.data_dir)
    assert outside_before == outside_after

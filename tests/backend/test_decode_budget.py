"""Decompression bombs are decoded under a memory budget (#28): each large image is brought down to a
working size as it decodes, a request has a cap on the pixels it decodes in all, the server a
budget on the bytes of decoding in flight, and GIF frames are never counted.
Memory itself is measured by benchmarks/decode_bombs.py, not asserted here."""

import threading
import time

import pytest
from PIL import Image

from backend.core.errors import ServiceBusy
from backend.services.decoding import DecodeBudget
from ml import open_image, preprocess, shrink
from tests.backend.bombs import BOMB_SIDE, gif_frames, lossless


def _files(*items):
    return [("files", item) for item in items]


def test_large_lossless_image_is_kept_small_after_decoding():
    """The decoded image handed on is at most 639 px a side, whatever the file's size."""
    img = open_image(lossless("PNG", 4000, "L"))
    assert max(img.size) < 2 * shrink.KEEP_LONG_SIDE and img.info["source_size"] == (4000, 4000)
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (250, 250, 250)


def test_shrunk_image_keeps_orientation_and_transparency():
    """A large image shrunk strip by strip is still turned upright and composited on white."""
    rgba = Image.new("RGBA", (1600, 800), (0, 0, 0, 0))
    rgba.paste((200, 0, 0, 255), (0, 0, 400, 800))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: turn 90° clockwise
    buf = __import__("io").BytesIO()
    rgba.save(buf, "PNG", exif=exif)
    img = open_image(buf.getvalue())
    assert img.info["source_size"] == (800, 1600) and img.height > img.width
    assert img.getpixel((img.width - 1, img.height - 1)) == (255, 255, 255)  # transparent → white
    assert img.getpixel((img.width - 1, 0))[0] > 150  # the red band, now at the top


def test_decode_cost_is_predicted_from_the_header():
    webp = preprocess.read_header(lossless("WEBP"))
    png = preprocess.read_header(lossless("PNG"))
    assert shrink.decode_cost(webp) == BOMB_SIDE**2 * 4 * 4  # libwebp's canvases and Pillow's copies
    assert shrink.decode_cost(png) == BOMB_SIDE**2 * 4


def test_gif_frames_are_never_counted():
    """228k 1×1 frames: Pillow counts them by walking the whole file (2 s each). Decoding needs
    only the first frame."""
    header = preprocess.read_header(gif_frames(200_000))
    started = time.perf_counter()
    preprocess.decode(header)
    assert header._n_frames is None, "decode walked the frames to count them"
    assert time.perf_counter() - started < 0.5


def test_request_pixel_cap_refuses_the_rest_with_a_reason(client):
    """Sixteen 40-megapixel PNGs (2 MB in all): two are decoded, the rest refused with a reason,
    one at a time, so the request never holds more than one full-size image."""
    bomb = lossless("PNG")
    r = client.post("/api/v1/predictions", files=_files(*[(f"b{i}.png", bomb, "image/png") for i in range(16)]))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x.get("status", 200) for x in results] == [200, 200] + [422] * 14
    assert "decoded pixels" in results[2]["detail"] and "another message" in results[2]["detail"]


def test_image_needing_more_than_the_budget_is_refused(client, make_client, settings):
    """A 40 MP lossless WebP needs 640 MB to decode (libwebp): over the 384 MB default, a clear 422."""
    r = client.post("/api/v1/predictions", files=_files(("bomb.webp", lossless("WEBP"), "image/webp")))
    assert r.status_code == 422 and "MB to decode" in r.json()["detail"]
    small = make_client(settings.model_copy(update={"decode_budget_mb": 8}))
    r = small.post("/api/v1/predictions", files=_files(("big.png", lossless("PNG", 2000), "image/png")))
    assert r.status_code == 422 and "the limit is 8 MB" in r.json()["detail"]


def test_server_budget_waits_for_room_then_answers_busy():
    """Real threads: a second large decode waits while the first holds the room, runs once it is
    given back, and gives up with a 503 (Retry-After) when it does not come back in time."""
    budget = DecodeBudget(capacity=100 << 20, wait_seconds=0.3)
    entered, release = threading.Event(), threading.Event()

    def hold_room():
        with budget.hold(80 << 20):
            entered.set()
            release.wait(5)

    first = threading.Thread(target=hold_room)
    first.start()
    entered.wait(5)
    with pytest.raises(ServiceBusy) as busy:
        with budget.hold(40 << 20):
            pass
    assert busy.value.status_code == 503 and busy.value.headers == {"Retry-After": "2"}
    with budget.hold(10 << 20):  # fits beside the first
        assert budget.in_use == 90 << 20
    threading.Timer(0.1, release.set).start()
    with budget.hold(40 << 20):
        assert budget.in_use == 40 << 20
    first.join()
    assert budget.in_use == 0

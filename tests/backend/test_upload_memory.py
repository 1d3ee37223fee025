"""Upload bytes held in memory are bounded per server process (#28 Medium 5: 300 stalled 5 MB
/fashion-mnist uploads added 1.7 GB). Every reader (multipart parts, raw bodies, Open Inference
bodies) reserves what it keeps from one process-wide UploadMemory; past it, files continue on disk
in incoming/ and a body that must stay in memory gets 503 with Retry-After. A real server and raw
sockets for the stalled uploads; the readers in-process for release on disconnect and cancel."""

from __future__ import annotations

import asyncio
import io
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from starlette.requests import Request

from backend.core.config import Settings
from backend.services.multipart import read_form
from backend.services.raw_body import read_raw
from backend.services.upload_memory import UploadMemory, upload_memory
from tests.conftest import running_server

BUDGET_MB = 16
BODY = 4 * 1024 * 1024  # each stalled upload: a small JPEG padded to 4 MB (JPEG decoders stop at EOI)
HELD_BACK = 1024  # bytes of each body not sent until the uploads are let go
PER_KIND = 12  # stalled uploads on each of the three routes: 36 × 4 MB = 144 MB if held in memory
MARGIN_MB = 40  # connections, request objects, the allocator's slack


def _jpeg_padded(size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 80), (40, 60, 120)).save(buf, "JPEG")
    head = buf.getvalue()
    return head + os.urandom(size - len(head))


# ---- a real server --------------------------------------------------------------------------------

def _pid_of(base: str) -> int:
    """The uvicorn child this test process started for base (running_server does not expose it)."""
    port = base.rsplit(":", 1)[1]
    children = subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True, text=True).stdout.split()
    for pid in children:
        if port in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode():
            return int(pid)
    raise AssertionError(f"no server process on port {port}")


def _rss_mb(pid: int) -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024


def _settled_rss_mb(pid: int, seconds: float = 15) -> float:
    """RSS once it stops moving (the server has read what the sockets' buffers held)."""
    deadline, last, still = time.time() + seconds, _rss_mb(pid), 0
    while time.time() < deadline and still < 5:
        time.sleep(0.2)
        now = _rss_mb(pid)
        still = still + 1 if abs(now - last) < 0.5 else 0
        last = now
    return last


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    env = {"CLOSETCHAT_UPLOAD_MEMORY_MB": str(BUDGET_MB), "CLOSETCHAT_PHOTOS_PER_MINUTE": "0"}
    with running_server(tmp_path_factory.mktemp("upload-memory"), env=env) as base:
        yield base


def _request(base: str, path: str, kind: str, payload: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    if kind == "multipart":
        body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
                b"Content-Type: image/jpeg\r\n\r\n" + payload + b"\r\n--b--\r\n")
        content_type = "multipart/form-data; boundary=b"
    else:
        body, content_type = payload, "image/jpeg"
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    return head + body


UPLOADS = [("/fashion-mnist", "multipart"), ("/fashion-mnist", "raw"), ("/predictions/fashion-mnist", "raw")]


def _stall(base: str, payload: bytes) -> list[tuple[socket.socket, bytes]]:
    """PER_KIND uploads on each route, all but their last HELD_BACK bytes sent."""
    host, port = base.removeprefix("http://").split(":")
    stalled = []
    for path, kind in UPLOADS * PER_KIND:
        raw = _request(base, path, kind, payload)
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock.sendall(raw[:-HELD_BACK])
        stalled.append((sock, raw[-HELD_BACK:]))
    return stalled


def _status(sock: socket.socket) -> int:
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return int(answer.split(b" ", 2)[1])


def _classify_small(base: str) -> None:
    small = _jpeg_padded(200_000)
    r = httpx.post(base + "/fashion-mnist", files={"file": ("s.jpg", small, "image/jpeg")}, timeout=30)
    assert r.status_code == 200, r.text


@pytest.mark.slow
def test_stalled_uploads_are_held_within_the_budget_then_finish(live):
    pid = _pid_of(live)
    for _ in range(3):
        _classify_small(live)
    baseline = _settled_rss_mb(pid, 5)
    payload = _jpeg_padded(BODY)

    stalled = _stall(live, payload)
    try:
        held = _settled_rss_mb(pid)
        assert httpx.get(live + "/healthz", timeout=5).status_code == 200
        print(f"baseline {baseline:.0f} MB, {len(stalled)} stalled × {BODY >> 20} MB: {held:.0f} MB")
        assert held - baseline < BUDGET_MB + MARGIN_MB, f"RSS grew {held - baseline:.0f} MB for stalled uploads"
        for sock, rest in stalled:  # let them finish: every one is answered, in memory or from disk
            sock.sendall(rest)
        assert [_status(sock) for sock, _ in stalled] == [200] * len(stalled)
    finally:
        for sock, _ in stalled:
            sock.close()
    _classify_small(live)
    after = _settled_rss_mb(pid, 5)
    print(f"after they finished: {after:.0f} MB")
    assert after - baseline < BUDGET_MB + MARGIN_MB


@pytest.mark.slow
def test_dropped_uploads_give_their_memory_and_files_back(live, tmp_path):
    pid = _pid_of(live)
    _classify_small(live)
    baseline = _settled_rss_mb(pid, 5)
    for sock, _ in _stall(live, _jpeg_padded(BODY)):
        sock.close()  # the clients go away mid-body
    time.sleep(1)
    incoming = Path(next(a for a in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                         if a.startswith(b"CLOSETCHAT_DATA_DIR=")).split(b"=", 1)[1].decode()) / "incoming"
    deadline = time.time() + 10
    while any(incoming.iterdir()) and time.time() < deadline:
        time.sleep(0.2)
    assert list(incoming.iterdir()) == []  # spilled parts removed
    # the reservations came back: a second wave is held within the budget again
    stalled = _stall(live, _jpeg_padded(BODY))
    try:
        held = _settled_rss_mb(pid)
        assert held - baseline < BUDGET_MB + MARGIN_MB
    finally:
        for sock, _ in stalled:
            sock.close()
    _classify_small(live)
    assert httpx.get(live + "/healthz", timeout=5).status_code == 200


# ---- the readers in-process -----------------------------------------------------------------------

def _streamed(body: bytes, content_type: str, chunk: int = 4096, cut_at: int | None = None, hang_at: int | None = None):
    """A Request whose body arrives in chunks; cut_at: the client disconnects there; hang_at: the
    body stops arriving there (for cancellation)."""
    sent = 0

    async def receive():
        nonlocal sent
        if cut_at is not None and sent >= cut_at:
            return {"type": "http.disconnect"}
        if hang_at is not None and sent >= hang_at:
            await asyncio.sleep(3600)
        data = body[sent:sent + chunk]
        sent += len(data)
        return {"type": "http.request", "body": data, "more_body": sent < len(body)}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [
        (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]}
    return Request(scope, receive)


def _multipart(data: bytes) -> bytes:
    return (b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\n\r\n'
            + data + b"\r\n--b--\r\n")


MP = "multipart/form-data; boundary=b"


def test_small_parts_stay_in_memory_and_reserve_until_cleanup(tmp_path):
    pool = UploadMemory(1 << 20)
    form = asyncio.run(read_form(_streamed(_multipart(b"a" * 50_000), MP), tmp_path, 10 << 20, 1,
                                 memory_budget=10 << 20, pool=pool))
    assert form.files[0].data == b"a" * 50_000 and not form.files[0].on_disk
    assert pool.in_use == 50_000
    form.cleanup()
    assert pool.in_use == 0


def test_parts_past_the_process_budget_continue_on_disk(tmp_path):
    pool = UploadMemory(100_000)
    data = os.urandom(300_000)
    form = asyncio.run(read_form(_streamed(_multipart(data), MP), tmp_path, 10 << 20, 1,
                                 memory_budget=10 << 20, pool=pool))
    upload = form.files[0]
    assert upload.data is None and upload.on_disk and upload.path.read_bytes() == data
    assert upload.source == upload.path and pool.in_use == 0  # what it held in memory was given back on spilling
    form.cleanup()
    assert list(tmp_path.iterdir()) == []


def test_raw_body_past_the_process_budget_continues_on_disk(tmp_path):
    pool = UploadMemory(100_000)
    data = os.urandom(300_000)
    form = asyncio.run(read_raw(_streamed(data, "image/jpeg"), tmp_path, 10 << 20, "file", pool=pool))
    upload = form.files[0]
    assert upload.data is None and upload.on_disk and upload.path.read_bytes() == data and upload.size == len(data)
    assert pool.in_use == 0
    form.cleanup()
    assert list(tmp_path.iterdir()) == [] and pool.in_use == 0

    small = asyncio.run(read_raw(_streamed(b"x" * 5000, "image/jpeg"), tmp_path, 10 << 20, "file", pool=pool))
    assert small.files[0].data == b"x" * 5000 and pool.in_use == 5000
    small.cleanup()
    assert pool.in_use == 0


@pytest.mark.parametrize("reader", ["multipart", "raw"])
def test_a_disconnect_mid_body_releases_memory_and_files(tmp_path, reader):
    pool = UploadMemory(1 << 20)
    data = os.urandom(2 << 20)  # half in memory, then on disk, when the client goes
    if reader == "multipart":
        request = _streamed(_multipart(data), MP, cut_at=1_500_000)
        call = read_form(request, tmp_path, 10 << 20, 1, memory_budget=10 << 20, pool=pool)
    else:
        call = read_raw(_streamed(data, "image/jpeg", cut_at=1_500_000), tmp_path, 10 << 20, "file", pool=pool)
    with pytest.raises(Exception, match="interrupted"):
        asyncio.run(call)
    assert pool.in_use == 0 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("reader", ["multipart", "raw"])
def test_a_cancelled_upload_releases_memory_and_files(tmp_path, reader):
    pool = UploadMemory(1 << 20)
    data = os.urandom(2 << 20)

    async def run():
        if reader == "multipart":
            call = read_form(_streamed(_multipart(data), MP, hang_at=1_500_000), tmp_path, 10 << 20, 1,
                             memory_budget=10 << 20, pool=pool)
        else:
            call = read_raw(_streamed(data, "image/jpeg", hang_at=1_500_000), tmp_path, 10 << 20, "file", pool=pool)
        task = asyncio.ensure_future(call)
        await asyncio.sleep(0.05)
        assert pool.in_use > 0 or any(tmp_path.iterdir())
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert pool.in_use == 0 and list(tmp_path.iterdir()) == []


def test_a_form_nobody_cleans_up_gives_its_reservation_back_when_dropped(tmp_path):
    pool = UploadMemory(1 << 20)
    form = asyncio.run(read_form(_streamed(_multipart(b"a" * 1000), MP), tmp_path, 10 << 20, 1,
                                 memory_budget=10 << 20, pool=pool))
    assert pool.in_use == 1000
    del form
    assert pool.in_use == 0


def test_open_inference_body_past_the_budget_gets_503_with_retry_after(make_client, settings):
    client = make_client(settings.model_copy(update={"upload_memory_mb": 1}))
    pool = upload_memory(Settings.model_construct(upload_memory_mb=1))
    hog = pool.lease()
    assert hog.take(pool.capacity - 1000)  # other uploads hold all but 1000 bytes
    try:
        body = b'{"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["' + b"A" * 20_000 + b'"]}]}'
        r = client.post("/v2/models/fashion-mnist/infer", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 503 and r.headers["retry-after"]
    finally:
        hog.release()
    assert pool.in_use == 0
    r = client.post("/v2/models/fashion-mnist/infer", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code != 503

"""`closetchat serve` limits what a connection may do before it is a request (#28 Medium 5):
oversized headers get 431, headers that dawdle get 408, and past --limit-concurrency new requests
get 503 at once, while the server keeps answering. A real `closetchat serve` and raw sockets."""

from __future__ import annotations

import os
import socket
import sys
import time

import httpx
import pytest

from tests.conftest import running_server

pytestmark = pytest.mark.slow  # a real server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    command = [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port", "{port}",
               "--limit-concurrency", "20", "--header-timeout", "1", "--log-level", "warning", "--no-access-log"]
    with running_server(tmp_path_factory.mktemp("serve-limits"), command=command) as base:
        yield base


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _status(sock: socket.socket) -> int:
    head = sock.recv(4096).decode("latin-1")
    return int(head.split(" ", 2)[1])


def test_oversized_headers_are_refused_unassembled(served):
    with _connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ")
        try:
            for _ in range(100):
                sock.sendall(b"a" * 16384)
        except OSError:
            pass  # the server closed the connection: what it sent first says why
        assert _status(sock) == 431
    assert httpx.get(served + "/healthz").status_code == 200


def test_a_big_body_arriving_with_its_headers_is_not_counted_as_headers(served):
    """One read of an upload carries its headers and much of its body: only the headers count
    (#29: one photo of 1 MB in two got 431 from `closetchat serve`)."""
    body = (b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            + os.urandom(600_000) + b"\r\n--b--\r\n")
    head = (f"POST /api/v1/predictions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    for _ in range(3):
        with _connect(served) as sock:
            sock.sendall(head + body)
            assert _status(sock) == 415  # read whole and answered: not an image


def test_headers_that_take_too_long_are_cut_off(served):
    with _connect(served) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.perf_counter()
        assert _status(sock) == 408 and time.perf_counter() - started < 4


def test_a_slow_response_is_not_cut_off_by_the_header_deadline(served):
    """The deadline covers headers only: a request whose answer takes longer is answered in full."""
    with httpx.Client(base_url=served, timeout=10) as client:
        assert client.get("/healthz").status_code == 200
        time.sleep(1.5)  # longer than the header deadline, shorter than the keep-alive timeout
        assert client.get("/healthz").status_code == 200


def test_past_the_concurrency_limit_requests_get_503_at_once(served):
    idle = [_connect(served) for _ in range(22)]
    try:
        time.sleep(0.2)
        started = time.perf_counter()
        r = httpx.get(served + "/healthz", timeout=5)
        assert r.status_code == 503 and time.perf_counter() - started < 2
    finally:
        for sock in idle:
            sock.close()
    time.sleep(0.3)
    assert httpx.get(served + "/healthz").status_code == 200

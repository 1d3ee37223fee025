"""Every body is capped before it is parsed, and a browser post that cannot pass the CSRF check is
refused before its body is read (#28 Medium 4). A real server (uvicorn subprocess) and raw sockets:
a request that declares a huge body and never sends it is answered at once only if nothing waits
for the body."""

from __future__ import annotations

import re
import socket

import httpx
import pytest

from backend.core.identity import COOKIE_NAME
from tests.conftest import csrf_of, running_server

HUGE = 800_000_000


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("body-limits")) as base:
        yield base


def _declare_only(base: str, path: str, headers: dict[str, str], length: int = HUGE) -> int:
    """Send only the headers of a POST declaring `length` body bytes; the status. The body never
    comes, so a server that waited for it would not answer at all: the socket's timeout fails the
    test (no clock to assert on)."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {length}",
             *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode())
        head = sock.recv(65536).decode("latin-1")
    return int(head.split(" ", 2)[1])


def _browser(base: str) -> tuple[str, str]:
    """A browser's cookie header and CSRF token, from a page."""
    with httpx.Client(base_url=base) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
        return f"{COOKIE_NAME}={client.cookies[COOKIE_NAME]}", token


@pytest.mark.parametrize(("path", "content_type"), [
    ("/c", "multipart/form-data; boundary=b"),
    ("/c/0123456789abcdef/delete", "multipart/form-data; boundary=b"),
    ("/c/0123456789abcdef/rename", "application/x-www-form-urlencoded"),
    ("/history/delete", "application/x-www-form-urlencoded"),
])
def test_cookieless_browser_post_is_refused_before_its_body(live, path, content_type):
    status = _declare_only(live, path, {"Content-Type": content_type}, length=5_000)
    assert status == 403


def test_api_json_body_over_the_cap_is_refused_before_it_is_read(live):
    """600 MB of JSON to the feedback route was read whole before anything answered."""
    status = _declare_only(live, "/api/v1/predictions/0123456789abcdef/feedback",
                                 {"Content-Type": "application/json"})
    assert status == 413


def test_small_browser_form_over_the_cap_is_refused_before_it_is_read(live):
    cookie, _ = _browser(live)
    status = _declare_only(live, "/c/0123456789abcdef/rename",
                                 {"Content-Type": "multipart/form-data; boundary=b", "Cookie": cookie})
    assert status == 413


def test_wrong_header_token_is_refused_before_the_upload_is_read(live):
    cookie, token = _browser(live)
    status = _declare_only(live, "/c", {"Content-Type": "multipart/form-data; boundary=b",
                                              "Cookie": cookie, "X-CSRF-Token": "0" * 32}, length=50_000_000)
    assert status == 403


def test_chunked_body_past_the_cap_is_cut_off(live):
    """A body sent without a length is counted as it comes and refused at the cap, unread beyond it."""
    cookie, token = _browser(live)
    pulled = []

    def body():
        yield f"csrf_token={token}&title=".encode()
        for i in range(200):
            pulled.append(i)
            yield b"x" * 65536

    r = httpx.post(live + "/c/0123456789abcdef/rename", content=body(), timeout=10,
                   headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    assert r.status_code == 413 and len(pulled) < 200


def test_form_field_count_is_capped(client):
    """Multipart and urlencoded alike: a form of thousands of tiny fields is refused at the 33rd."""
    token = csrf_of(client)
    many = {f"f{i}": "x" for i in range(40)} | {"csrf_token": token}
    r = client.post("/c", data=many, files={"files": ("", b"", "application/octet-stream")})
    assert r.status_code == 422 and "too many form fields" in r.text
    r = client.post("/c", data=many)
    assert r.status_code == 422 and "too many form fields" in r.text


def test_ordinary_forms_still_work(client):
    token = csrf_of(client)
    url = client.post("/c", data={"csrf_token": token, "text": "hi"}, follow_redirects=False).headers["location"]
    r = client.post(url + "/rename", data={"csrf_token": token, "title": "Mine"}, follow_redirects=False)
    assert r.status_code == 303
    assert client.post(url + "/delete", data={"csrf_token": token}, follow_redirects=False).status_code == 303

"""Request ids and structured logs: X-Request-ID echoed (the caller's when sane, else a new one), and
`closetchat serve --log-format json` writing one JSON object a line, the request's id on its lines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, free_port


def test_every_response_carries_a_request_id(client):
    made = client.get("/healthz").headers["x-request-id"]
    assert len(made) == 32 and made != client.get("/healthz").headers["x-request-id"]
    assert client.get("/api/v1/model", headers={"X-Request-ID": "trace-42.a:b"}).headers["x-request-id"] == "trace-42.a:b"
    for hostile in (b"two words", b"x" * 129, "é".encode()):
        echoed = client.get("/", headers={"X-Request-ID": hostile}).headers["x-request-id"]
        assert echoed.encode() != hostile and len(echoed) == 32
    assert client.get("/no-such-page").headers["x-request-id"]  # errors too


@pytest.mark.slow
def test_json_logs_carry_the_request_id(tmp_path):
    port = free_port()
    env = {**os.environ, "CLOSETCHAT_DATA_DIR": str(tmp_path / "data"), "CLOSETCHAT_SECRET_KEY": "logs",
           "CLOSETCHAT_LOG_FORMAT": "json"}
    log = tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert httpx.get(base + "/api/v1/model", headers={"X-Request-ID": "trace-42"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is JSON
    access = [e for e in lines if e["logger"] == "uvicorn.access" and e["request_id"] == "trace-42"]
    assert len(access) == 1 and "/api/v1/model" in access[0]["message"] and access[0]["time"].endswith("Z")
    assert any(e["logger"] == "uvicorn.error" and "startup complete" in e["message"] for e in lines)

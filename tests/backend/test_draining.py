"""SIGTERM with CLOSETCHAT_DRAIN_SECONDS: readiness turns 503 at once while requests are still
answered, then the server stops by itself. A real `closetchat serve` process, real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, fashion_png, free_port, wait_ready


@pytest.mark.slow
def test_sigterm_drains_before_stopping(tmp_path, fashion_test):
    env = {**os.environ, "CLOSETCHAT_DATA_DIR": str(tmp_path / "data"), "CLOSETCHAT_SECRET_KEY": "drain",
           "CLOSETCHAT_DRAIN_SECONDS": "4"}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=(tmp_path / "log").open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, 60)
        signalled = time.time()
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        ready = httpx.get(base + "/readyz")
        assert ready.status_code == 503 and ready.json() == {"status": "draining"}
        files = {"file": ("b.png", fashion_png(fashion_test, 0), "image/png")}
        assert httpx.post(base + "/fashion-mnist", files=files).json()["label"] == "Ankle boot"  # still serving
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
        assert time.time() - signalled >= 4
    finally:
        if proc.poll() is None:
            proc.kill()

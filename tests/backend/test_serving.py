"""`closetchat serve --workers 2`: one SO_REUSEPORT socket per worker, a dead worker replaced,
SIGTERM stops them all. Real processes, real HTTP."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, database_url_for_test, fashion_png, free_port


def _workers(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", "spawn_main"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def _wait(predicate, seconds: float = 60) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_two_workers_share_the_port_and_are_kept_alive(tmp_path, fashion_test):
    port = free_port()
    env = {**os.environ, "CLOSETCHAT_DATA_DIR": str(tmp_path / "data"), "CLOSETCHAT_SECRET_KEY": "serve-test"}
    url = database_url_for_test(tmp_path)
    if url:
        env["CLOSETCHAT_DATABASE_URL"] = url
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--port", str(port), "--workers", "2",
                             "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # quiet: only errors
    base = f"http://127.0.0.1:{port}"
    try:
        if not _wait(lambda: _ready(base) and len(_workers(proc.pid)) == 2):
            proc.kill()
            raise AssertionError("server did not start two workers: " + proc.communicate()[0].decode()[-2000:])
        files = {"file": ("boot.png", fashion_png(fashion_test, 0), "image/png")}
        assert httpx.post(base + "/fashion-mnist", files=files).json()["label"] == "Ankle boot"
        first = _workers(proc.pid)
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        assert _wait(lambda: len(_workers(proc.pid)) == 2 and victim not in _workers(proc.pid))
        assert _wait(lambda: _ready(base))
        for _ in range(10):  # whichever worker the kernel picks answers
            assert httpx.post(base + "/fashion-mnist", files=files).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) is not None
    assert _workers(proc.pid) == set()


@pytest.mark.slow
def test_workers_that_cannot_start_stop_the_server_with_an_error(tmp_path):
    """A bad setting kills every worker at start: the supervisor gives up after a few tries and
    exits 1 with the reason, so a container's restart policy and logs show it."""
    env = {**os.environ, "CLOSETCHAT_DATA_DIR": str(tmp_path / "data"), "CLOSETCHAT_SECRET_KEY": "serve-test",
           "CLOSETCHAT_MODEL_DIR": str(tmp_path / "no-such-weights")}
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--port", str(free_port()), "--workers", "2",
                             "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out = proc.communicate(timeout=120)[0].decode()
    finally:
        proc.kill()
    assert proc.returncode == 1, out[-2000:]
    assert "failed to start 3 times in a row (last exit code 3)" in out
    assert "exited with code 3 soon after starting" in out

"""Prometheus metrics: the names Prometheus conventions expect, process metrics, and with two
worker processes one scrape counting every request whichever worker answered it (real processes,
real HTTP, a connection per request so the kernel spreads them)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, database_url_for_test, fashion_png, free_port

ROUTE = 'route="/fashion-mnist"'


def _sample(text: str, name: str, labels: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_one_process_names_and_process_metrics(client, fashion_test):
    client.post("/fashion-mnist", files={"file": ("b.png", fashion_png(fashion_test, 0), "image/png")})
    text = client.get("/metrics").text
    assert _sample(text, "closetchat_http_request_duration_seconds_count", ROUTE) == 1
    assert "closetchat_http_request_seconds" not in text
    assert re.search(r"^process_cpu_seconds_total \d", text, re.M) and "process_resident_memory_bytes" in text


def _workers_ready(base: str, proc: subprocess.Popen) -> None:
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        pids = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "spawn_main"], capture_output=True, text=True).stdout.split()
        try:
            if len(pids) == 2 and httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise AssertionError("server did not start: " + proc.communicate()[0].decode()[-2000:])


@pytest.mark.slow
def test_two_workers_one_scrape_counts_every_request(tmp_path, fashion_test):
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env |= {"CLOSETCHAT_DATA_DIR": str(tmp_path / "data"), "CLOSETCHAT_SECRET_KEY": "metrics-test"}
    url = database_url_for_test(tmp_path)
    if url:
        env["CLOSETCHAT_DATABASE_URL"] = url
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "serve", "--port", str(port), "--workers", "2",
                             "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _workers_ready(base, proc)
        png, sent = fashion_png(fashion_test, 0), 30
        for _ in range(sent):  # a new connection each: the kernel hashes each to either worker
            assert httpx.post(base + "/fashion-mnist", files={"file": ("b.png", png, "image/png")}).status_code == 200
        scrapes = [httpx.get(base + "/metrics").text for _ in range(4)]  # whichever worker answers, the same totals
        for text in scrapes:
            assert _sample(text, "closetchat_http_requests_total", ROUTE) == sent
            assert _sample(text, "closetchat_http_request_duration_seconds_count", ROUTE) == sent
            assert _sample(text, "closetchat_predictions_total") == sent
        pids = set(re.findall(r'process_cpu_seconds_total\{pid="(\d+)"\}', scrapes[-1]))
        assert len(pids) == 2, scrapes[-1][-3000:]  # both workers' process metrics, each by pid
        assert re.search(r'closetchat_model_info\{.*\} 1\.0', scrapes[-1])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=40)


def test_model_queue_gauge_counts_waiting_images_and_returns_to_zero(classifier, fashion_test):
    """Eight threads hand the batcher 5 images each at once: every image counted in is counted out
    when its pass takes it, so the gauge is back at 0 once all are answered."""
    from concurrent.futures import ThreadPoolExecutor

    from backend.core.metrics import Metrics
    from backend.services.inference import InferenceEngine

    metrics = Metrics()
    engine = InferenceEngine(classifier, max_batch=8, max_wait_ms=0, metrics=metrics)
    try:
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda i: engine.predict_arrays(fashion_test.images[i * 5:(i + 1) * 5]), range(8)))
    finally:
        engine.close()
    assert [len(a) for a in answers] == [5] * 8
    text = metrics.exposition().decode()
    assert "closetchat_model_queue_images 0.0" in text
    assert _sample(text, "closetchat_model_batch_size_count") >= 2  # they were batched, several passes

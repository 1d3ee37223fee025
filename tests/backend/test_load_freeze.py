"""Many new browsers sending chat text at once against a real server (uvicorn subprocess, real
SQLite): /healthz keeps answering throughout, nothing fails but with a 503 and Retry-After, and every
acknowledged send is stored (#28 High 1: 120 such browsers once froze the whole server for minutes,
the event loop waiting for a database connection)."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

pytestmark = pytest.mark.slow  # a real server and 100 clients

BROWSERS = 100
LOCK_SECONDS = 5.0


@dataclass
class Load:
    outcomes: list = field(default_factory=list)  # (status, Retry-After) per send
    latencies: list = field(default_factory=list)  # /healthz, seconds
    ready: int = 0  # browsers holding their page and token
    go: asyncio.Event = field(default_factory=asyncio.Event)


async def _browser(base: str, i: int, load: Load) -> None:
    """A new browser: the page (its cookie and token), then, once `go` is set, a text send."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        page = await client.get("/")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        load.ready += 1
        await load.go.wait()
        r = await client.post("/c", data={"csrf_token": token, "text": f"which classes do you know? {i}"})
        stored = r.status_code == 303 and (await client.get(r.headers["location"])).status_code == 200
        load.outcomes.append((r.status_code, r.headers.get("retry-after"), stored))


def _probe(base: str, done: threading.Event, latencies: list) -> None:
    """In its own thread with its own connection, so the clients' event loop does not delay it."""
    with httpx.Client(base_url=base, timeout=30) as client:
        while not done.is_set():
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - started)
            time.sleep(0.05)


async def _run(base: str, database=None) -> Load:
    """BROWSERS browsers at once while /healthz is probed. database: once every browser has its
    page, hold SQLite's write lock from another connection for LOCK_SECONDS, so every send waits in
    a worker thread (all of the pool's threads busy) while health checks keep coming."""
    load, done = Load(), threading.Event()
    browsers = asyncio.gather(*(_browser(base, i, load) for i in range(BROWSERS)))
    probe = threading.Thread(target=_probe, args=(base, done, load.latencies))
    probe.start()
    try:
        while load.ready < BROWSERS:
            await asyncio.sleep(0.05)
        outsider = sqlite3.connect(database, isolation_level=None) if database else None
        if outsider:
            outsider.execute("BEGIN IMMEDIATE")
        load.go.set()
        if outsider:
            await asyncio.sleep(LOCK_SECONDS)
            outsider.execute("ROLLBACK")
            outsider.close()
        await browsers
    finally:
        done.set()
        probe.join()
    return load


def _load(base: str, database=None) -> Load:
    """_run in a thread of its own: the browser tests' Playwright keeps an event loop running in
    this one when the whole suite runs."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(_run(base, database))).result()


def _check(load: Load) -> None:
    latencies = sorted(load.latencies)
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    assert p99 <= 1.0 and latencies[-1] <= 2.0, f"/healthz p99 {p99:.2f}s, max {latencies[-1]:.2f}s"
    statuses = [status for status, _, _ in load.outcomes]
    assert len(statuses) == BROWSERS and all(s in (303, 503) for s in statuses), statuses
    assert all(retry for status, retry, _ in load.outcomes if status == 503)
    # every acknowledged send is there to read back, by the browser that sent it
    assert all(stored for status, _, stored in load.outcomes if status == 303)
    assert statuses.count(303) >= BROWSERS // 2


def test_concurrent_text_sends_never_freeze_healthz(server_with_data):
    base, _ = server_with_data
    _check(_load(base))


def test_sends_waiting_for_the_write_lock_leave_healthz_answering(server_with_data):
    """Every worker thread waits on SQLite's write lock: liveness is answered on the event loop
    meanwhile, and every send is stored once the lock is let go."""
    base, data_dir = server_with_data
    if os.environ.get("CLOSETCHAT_TEST_DATABASE_URL"):
        pytest.skip("holds SQLite's write lock (test_writes holds PostgreSQL's locks)")
    _check(_load(base, data_dir / "closetchat.db"))


@pytest.fixture
def server_with_data(tmp_path):
    from tests.conftest import running_server

    with running_server(tmp_path / "data") as base:
        yield base, tmp_path / "data"

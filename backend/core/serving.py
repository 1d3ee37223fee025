"""Several worker processes on one port, with the kernel spreading connections among them.

`uvicorn --workers N` shares one listening socket, and asyncio accepts every waiting connection
in one wake-up: the first worker to wake takes a burst of clients and keeps them, and under load
one worker could serve every connection while the other sat idle. Here each worker binds its own
SO_REUSEPORT socket and Linux hashes
each new connection to one of them. A worker that dies is started again, as uvicorn's supervisor
does, each death logged with its exit code. One that dies at start MAX_QUICK_DEATHS times in a row
cannot start (a bad setting, a missing file): the supervisor then stops them all and exits 1, so a
container or systemd unit shows the failure and its restart policy applies, rather than a server
retrying forever behind a healthcheck that only says "unhealthy". SIGINT/SIGTERM stop them all.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

APP = "backend.main:app"
QUICK_DEATH_S = 10.0  # a worker gone this soon after starting failed to start
RETRY_MAX_S = 30.0
MAX_QUICK_DEATHS = 3  # in a row: the worker cannot start
STARTUP_FAILED = 3  # a worker's exit code when its app did not start (uvicorn's own)

log = logging.getLogger("closetchat.serving")


class WorkerCannotStart(RuntimeError):
    pass


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, options: dict) -> None:
    sock = reuse_port_socket(host, port)
    server = uvicorn.Server(uvicorn.Config(APP, host=host, port=port, **options))
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILED)


def _forget_metrics_of(pid: int) -> None:
    """A dead worker's live gauges stop counting; its counters stay (they are the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


class _Worker:
    """One worker process, started again when it dies; one that dies at start is retried ever more
    slowly, and given up on (WorkerCannotStart) after MAX_QUICK_DEATHS such deaths in a row."""

    def __init__(self, spawn, args: tuple) -> None:
        self._spawn, self._args = spawn, args
        self._backoff = 0.0
        self._quick_deaths = 0
        self._retry_at: float | None = None
        self._start()

    def _start(self) -> None:
        self.process = self._spawn.Process(target=_worker, args=self._args, name="closetchat-worker")
        self.process.start()
        self._started, self._retry_at = time.monotonic(), None

    def keep_alive(self) -> None:
        if self.process.is_alive():
            return
        now = time.monotonic()
        if self._retry_at is None:  # found dead just now
            quick = now - self._started < QUICK_DEATH_S
            self._quick_deaths = self._quick_deaths + 1 if quick else 0
            code = self.process.exitcode
            _forget_metrics_of(self.process.pid)
            if self._quick_deaths >= MAX_QUICK_DEATHS:
                raise WorkerCannotStart(f"a worker failed to start {self._quick_deaths} times in a row "
                                        f"(last exit code {code}); its error is logged above")
            self._backoff = min(RETRY_MAX_S, self._backoff * 2 or 1.0) if quick else 0.0
            self._retry_at = now + self._backoff
            log.error("worker %s exited with code %s%s; starting another in %.0f s", self.process.pid, code,
                      " soon after starting" if quick else "", self._backoff)
        if now >= self._retry_at:
            self._start()


def run(host: str, port: int, workers: int, **options) -> None:
    """Serve the app; with several workers, one SO_REUSEPORT socket each (Linux, BSD)."""
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or workers > 1:  # as the image sets it, even for one
            _metrics_dir()
        uvicorn.run(APP, host=host, port=port, workers=workers, **options)
        return
    reuse_port_socket(host, port).close()  # fail here, once, if the port is taken or not ours
    metrics_dir = _metrics_dir()
    logging.basicConfig(format="%(levelname)s:     %(message)s")  # the supervisor's own lines, as uvicorn's look
    stopping = False

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    spawn = multiprocessing.get_context("spawn")
    pool = [_Worker(spawn, (host, port, options)) for _ in range(workers)]
    try:
        while not stopping:
            time.sleep(0.5)
            for worker in pool:
                if not stopping:
                    worker.keep_alive()
    except WorkerCannotStart as exc:
        log.critical("%s; stopping", exc)
        raise SystemExit(1) from None
    finally:
        _stop_all(pool)
        if metrics_dir.owned:
            shutil.rmtree(metrics_dir.path, ignore_errors=True)


def _stop_all(pool: list[_Worker]) -> None:
    for worker in pool:
        worker.process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for worker in pool:
        worker.process.join(timeout=30)
        if worker.process.is_alive():
            worker.process.kill()


@dataclass
class _MetricsDir:
    path: Path
    owned: bool  # made here for this run, removed at the end


def _metrics_dir() -> _MetricsDir:
    """PROMETHEUS_MULTIPROC_DIR for the workers (backend/core/metrics.py), set before any of them
    imports prometheus_client: the one given, emptied of a previous run's files, or a new temporary one."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        return _MetricsDir(path, owned=False)
    path = Path(tempfile.mkdtemp(prefix="closetchat-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return _MetricsDir(path, owned=True)

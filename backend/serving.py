"""Several worker processes on one port, with the kernel spreading connections among them.

`uvicorn --workers N` shares one listening socket, and asyncio accepts every waiting connection
in one wake-up: the first worker to wake takes a burst of clients and keeps them. Measured under
wrk (16 connections, 2 workers): in some runs one worker served all 16 and the other none, so the
app used 1.4 of the 2 cores. Here each worker binds its own SO_REUSEPORT socket and Linux hashes
each new connection to one of them. A worker that dies is started again, as uvicorn's supervisor
does (one that keeps dying at start, ever more slowly: 1, 2, 4 ... 30 s); SIGINT/SIGTERM stop them all.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import time

import uvicorn

APP = "backend.main:app"
QUICK_DEATH_S = 10.0  # a worker gone this soon after starting failed to start
RETRY_MAX_S = 30.0


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
    uvicorn.Server(uvicorn.Config(APP, host=host, port=port, **options)).run(sockets=[sock])


def run(host: str, port: int, workers: int, **options) -> None:
    """Serve the app; with several workers, one SO_REUSEPORT socket each (Linux, BSD)."""
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, host=host, port=port, workers=workers, **options)
        return
    reuse_port_socket(host, port).close()  # fail here, once, if the port is taken or not ours
    spawn = multiprocessing.get_context("spawn")
    stopping = False

    def start():
        process = spawn.Process(target=_worker, args=(host, port, options), name="closetchat-worker")
        process.start()
        return process

    def stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    processes = [start() for _ in range(workers)]
    started = [time.monotonic()] * workers
    backoff = [0.0] * workers  # a worker that keeps dying at start is retried ever more slowly
    retry_at: list[float | None] = [None] * workers
    try:
        while not stopping:
            time.sleep(0.5)
            for i, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                now = time.monotonic()
                if retry_at[i] is None:  # found dead just now
                    quick = now - started[i] < QUICK_DEATH_S
                    backoff[i] = min(RETRY_MAX_S, backoff[i] * 2 or 1.0) if quick else 0.0
                    retry_at[i] = now + backoff[i]
                if now >= retry_at[i]:
                    processes[i], started[i], retry_at[i] = start(), now, None
    finally:
        for process in processes:
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()

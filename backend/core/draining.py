"""Draining: on SIGTERM the process first says so on /readyz (503, "draining") and keeps serving
for CLOSETCHAT_DRAIN_SECONDS, so that a load balancer polling readiness stops sending it new
requests; only then is uvicorn told to stop (it closes the socket and finishes what is in flight).
With the default 0 it stops at once, as before. A second signal stops it at once.

Installed from the app's startup, after uvicorn's own signal handlers, which it wraps; only in the
main thread (a test client's app runs elsewhere and has no signals)."""

from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Drain:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.draining = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            previous = signal.getsignal(sig)
            if callable(previous):
                signal.signal(sig, self._handler(previous))

    def _handler(self, previous):
        def on_signal(signum, frame):
            if self.draining or self.seconds <= 0:
                self.draining = True
                previous(signum, frame)
                return
            self.draining = True  # /readyz answers 503 from now on
            timer = threading.Timer(self.seconds, previous, args=(signum, frame))
            timer.daemon = True
            timer.start()

        return on_signal

"""Limits on what a connection may do before it is a request: uvicorn's httptools protocol with a
cap on header bytes and a deadline for the headers to arrive.

Why (#28): uvicorn reads request headers with no size limit and no deadline. 150 MB of headers
froze the event loop for seconds (httptools joins a header's pieces as they come), and about 20k
connections sending their headers slowly exhausted the file descriptors. uvicorn's own
--limit-concurrency answers 503 only once a request's headers are complete, so it cannot help
against either. These limits need no reverse proxy; one is still recommended in front of an exposed
server (README), as it buffers slow clients without holding a worker's connections.
"""

from __future__ import annotations

import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 64 * 1024  # request line and headers; browsers send a few KB
# from a connection (or the end of the previous response) to its headers' end; `closetchat serve
# --header-timeout` sets it for the worker processes through this variable
HEADER_TIMEOUT_ENV = "CLOSETCHAT_HEADER_TIMEOUT_S"
HEADER_TIMEOUT_S = 10.0


def header_timeout() -> float:
    return float(os.environ.get(HEADER_TIMEOUT_ENV) or HEADER_TIMEOUT_S)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes a connection whose headers pass MAX_HEADER_BYTES (431) or
    take longer than header_timeout() to arrive (408). Bytes are counted as they are received, before the
    parser sees them, so an oversized header is never assembled."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._header_tail = b""  # the last bytes of the previous read: a header end may straddle two
        self._in_headers = True
        self._deadline = self.loop.call_later(header_timeout(), self._headers_too_slow)

    def connection_lost(self, exc) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_headers:
            # only the bytes up to the headers' end count: one read of a big upload often carries
            # the headers and hundreds of KB of its body (#29: photos of 1 MB and more got 431)
            end = (self._header_tail + data[:MAX_HEADER_BYTES + 4]).find(b"\r\n\r\n")
            self._header_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._header_tail))
            self._header_tail = data[-3:]
            if self._header_bytes > MAX_HEADER_BYTES:
                self._refuse(b"431 Request Header Fields Too Large", b"request headers too large")
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._cancel_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_headers, self._header_bytes, self._header_tail = True, 0, b""  # the next request's headers

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._in_headers and not self.transport.is_closing():
            # the next request's headers: uvicorn's keep-alive timeout closes an idle connection first
            self._cancel_deadline()
            self._deadline = self.loop.call_later(header_timeout() + self.timeout_keep_alive, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        answering = self.cycle is not None and not self.cycle.response_complete
        if self._in_headers and not answering and not self.transport.is_closing():
            self._refuse(b"408 Request Timeout", b"request headers took too long")

    def _cancel_deadline(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
            self._deadline = None

    def _refuse(self, status: bytes, message: bytes) -> None:
        self._cancel_deadline()
        self.transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
                             b"content-length: " + str(len(message)).encode() + b"\r\nconnection: close\r\n\r\n"
                             + message)
        self.transport.close()


def uvicorn_limits(limit_concurrency: int, timeout_keep_alive: int, header_timeout_s: float = HEADER_TIMEOUT_S) -> dict:
    """Options for uvicorn.run/Config: these protocol limits (h11's own header cap where httptools
    is missing), a cap on connections and tasks (past it, 503 at once) and the keep-alive timeout."""
    os.environ[HEADER_TIMEOUT_ENV] = str(header_timeout_s)  # read by every worker's connections
    try:
        import httptools  # noqa: F401

        http: object = LimitedHttpToolsProtocol
    except ImportError:  # pragma: no cover
        http = "h11"
    return {"http": http, "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
            "limit_concurrency": limit_concurrency, "timeout_keep_alive": timeout_keep_alive}

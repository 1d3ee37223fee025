"""A request id for every request: the caller's X-Request-ID when it is a sane token (a proxy or
client tracing its own requests), else a new one; echoed in the response's X-Request-ID and put on
every log line written while the request is served (backend/core/logs.py), so a client's report
("request 3f2a... failed") finds the server's lines."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
ACCEPTED = re.compile(rb"[A-Za-z0-9._:-]{1,128}")  # anything else (control characters, huge) is replaced
current: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == HEADER), b"")
        request_id = given.decode() if ACCEPTED.fullmatch(given) else uuid.uuid4().hex
        token = current.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current.reset(token)

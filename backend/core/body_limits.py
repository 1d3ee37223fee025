"""Every request body is capped before anything parses it, and a browser post that cannot pass
the CSRF check is refused before its body is read.

Why (#28): a 600 MB JSON body to an API route was read whole before its 401; the browser forms'
parser (Starlette's) spooled 800 MB to the system temp folder before a 403; a post with no identity
cookie (another site's form: SameSite=Lax holds the cookie back) can never carry a valid token,
since the token is derived from the cookie's id, yet its body was parsed in full first.

Uploads (the chat's sends, the API's predictions, /fashion-mnist) may carry max_files files of
max_upload_mb each; their own readers enforce the per-file caps. Every other body is small.
"""

from __future__ import annotations

import json
import re

from fastapi import Request

from backend.core.config import Settings
from backend.core.cors import is_cross_origin_path
from backend.core.errors import ClosetChatError, CsrfFailed, RequestTooLarge

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SMALL_BODY = 64 * 1024  # a rename, a delete of a page of rows, a correction: a few KB at most
UPLOAD_OVERHEAD = 1024 * 1024  # the form's text fields and part headers beside its files
UPLOAD_PATHS = re.compile(r"^/(c|c/[^/]+/messages|api/v1/predictions|fashion-mnist|models/fashion-mnist"
                          r"|v2/models/[^/]+(/versions/[^/]+)?/infer|predictions/[^/]+)/?$")
EXPIRED = "this form has expired; reload the page and try again"


def is_json_path(path: str) -> bool:
    """Routes scripts and other sites call (the API, the seed's paths), answered in JSON and never
    authenticated by the cookie; the rest are the browser's pages and forms."""
    return is_cross_origin_path(path)


class BodyGuard:
    """Pure ASGI, inside BrowserIdentityMiddleware (it reads the browser id that one attaches).

    A JSON route's refusal is answered here, in JSON. A browser route's refusal is left to the
    app, so it is rendered as the chat renders every error: the app is handed an empty body and
    request.state.refused, which the web routers' `raise_refusal` dependency raises first."""

    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.upload_cap = settings.max_files * settings.max_upload_bytes + UPLOAD_OVERHEAD

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            return await self.app(scope, receive, send)
        path, cap = scope["path"], self.upload_cap if UPLOAD_PATHS.match(scope["path"]) else SMALL_BODY
        refusal = self._refusal(scope, cap)
        if refusal is not None:
            if is_json_path(path):
                return await _answer(send, refusal)
            scope.setdefault("state", {})["refused"] = refusal
            return await self.app(scope, _empty_body(), send)
        await self._capped(scope, receive, send, cap)

    @staticmethod
    def _refusal(scope, cap: int) -> ClosetChatError | None:
        headers = dict(scope["headers"])
        if not is_json_path(scope["path"]):
            browser = scope.get("state", {}).get("browser")
            if browser is not None and (browser.value and browser.issued):  # no valid identity cookie
                return CsrfFailed(EXPIRED)
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            return RequestTooLarge(f"the request is larger than {_size(cap)}")
        return None

    async def _capped(self, scope, receive, send, cap: int) -> None:
        """Bodies sent without a length (chunked) are counted as they come: past the cap the app
        sees the client go away, whatever it had begun to answer is dropped, and 413 is sent."""
        received, over, started = 0, False, False

        async def counted():
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if over:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _answer(send, RequestTooLarge(f"the request is larger than {_size(cap)}"))


async def raise_refusal(request: Request) -> None:
    """Dependency of the browser routers: the refusal BodyGuard left, raised before the route
    runs (and before an empty form's missing fields are reported)."""
    refused = getattr(request.state, "refused", None)
    if refused is not None:
        raise refused


def _empty_body():
    """What the app reads instead of a refused body: empty, then the client gone (never the bytes
    the client is still sending)."""
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    return receive


async def _answer(send, error: ClosetChatError) -> None:
    body = json.dumps({"detail": error.message}).encode()
    await send({"type": "http.response.start", "status": error.status_code,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"

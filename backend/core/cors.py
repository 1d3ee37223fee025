"""CORS for the routes other sites' pages call: the seed's front end, served from its own origin,
posts to /fashion-mnist; scripts in pages may call /api/, /v2/ and TorchServe's /predictions/{model}. The chat and history pages get no CORS at
all (they use the cookie and CSRF token, same-origin only). Origins come from CLOSETCHAT_CORS_ORIGINS;
no credentials are allowed, since the API authenticates with a header, never a cookie."""

from __future__ import annotations

import re

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CROSS_ORIGIN_PREFIXES = ("/api/", "/fashion-mnist", "/models/", "/v2/")  # /v2/: the Open Inference Protocol
# TorchServe's /predictions/{model}; not /predictions/{id}/feedback, the chat page's own form post
TORCHSERVE_PATH = re.compile(r"/predictions/[^/]+/?")


def is_cross_origin_path(path: str) -> bool:
    """The routes scripts and other sites call: answered in JSON, never authenticated by the cookie."""
    return path.startswith(CROSS_ORIGIN_PREFIXES) or TORCHSERVE_PATH.fullmatch(path) is not None


class ApiCors:
    """Starlette's CORSMiddleware, for the cross-origin routes only; a no-op without origins."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
                                   allow_headers=["Authorization", "X-API-Key", "Content-Type"],
                                   expose_headers=["X-Request-ID"], max_age=600) if origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cors is not None and scope["type"] == "http" and is_cross_origin_path(scope["path"]):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)

"""With API keys configured, the operations pages need a key too (unless opted out).

Why (#28 Low 10): in keyed mode /metrics and the API docs stayed open to anyone, and the metrics
told one tenant about another: `closetchat_request_writes_total{path=...}` moved only when a photo
was new, so a tenant could learn whether another had already stored the same photo. Prometheus
sends the key as a bearer token (`authorization` in a scrape config); CLOSETCHAT_PUBLIC_METRICS and
CLOSETCHAT_PUBLIC_DOCS open them again where a network boundary already protects them.
"""

from __future__ import annotations

import hmac
import json

from backend.core.config import Settings

METRICS_PATHS = ("/metrics",)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc")
DETAIL = json.dumps({"detail": "a valid API key is required (Authorization: Bearer KEY or X-API-Key)"}).encode()


def _key(headers: dict[bytes, bytes]) -> str:
    key = headers.get(b"x-api-key", b"").decode("latin-1")
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if not key and auth[:7].lower() == "bearer ":
        key = auth[7:].strip()
    return key


class OpsAccess:
    """Pure ASGI: 401 for the protected operations paths without one of the API keys."""

    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.keys = [k.encode() for k in settings.api_keys]
        self.paths = (() if settings.public_metrics else METRICS_PATHS) + (() if settings.public_docs else DOCS_PATHS)
        if not self.keys:
            self.paths = ()

    def _allowed(self, headers) -> bool:
        key = _key(dict(headers)).encode()
        return any(hmac.compare_digest(key, k) for k in self.keys)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] not in self.paths or self._allowed(scope["headers"]):
            return await self.app(scope, receive, send)
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(DETAIL)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": DETAIL})

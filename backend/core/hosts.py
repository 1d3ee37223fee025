"""Which Host headers the server answers: a defence against DNS rebinding.

Why (#28): in local mode the API needs no key, so a page on attacker.example whose name is made to
resolve to 127.0.0.1 could read everything through the visitor's browser (the browser thinks it
is talking to attacker.example, so the same-origin policy lets it read the answers). The request it
sends carries `Host: attacker.example`; refusing domain names nobody configured stops it. The
Host header also built absolute redirects (`/history/` went to http://evil.example/history).

Default in local mode (no API keys): loopback names, IP addresses (a rebinding attack needs a
domain name, and a phone on the same network reaches the server by its address) and single-label
names (`localhost`, a machine's bare name). Any domain name must be listed in
CLOSETCHAT_ALLOWED_HOSTS. With API keys configured, every host is answered unless the list is set.
"""

from __future__ import annotations

import ipaddress

from backend.core.config import Settings
from backend.core.cors import is_cross_origin_path

REFUSED = b"this server does not answer to that host name (CLOSETCHAT_ALLOWED_HOSTS)"
CROSS_SITE = b"another site's page may not write through the keyless API (CLOSETCHAT_CORS_ORIGINS)"


def host_name(headers) -> str:
    """The Host header's name, lower case, without its port or an IPv6 address's brackets."""
    host = dict(headers).get(b"host", b"").decode("latin-1").strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def default_allows(name: str) -> bool:
    return not name or _is_ip(name) or "." not in name or name.endswith(".localhost")


def cross_site_write(scope, local_mode: bool, origins: set[str]) -> bool:
    """A keyless (local-mode) API write sent by another site's page: a browser marks it with an
    Origin that is not this server's, and another origin's fetch(..., {mode: 'no-cors'}) planted
    rows this way (#28). Scripts send no Origin; CLOSETCHAT_CORS_ORIGINS lists the pages allowed."""
    if not local_mode or scope["method"] in ("GET", "HEAD", "OPTIONS") or not is_cross_origin_path(scope["path"]):
        return False
    headers = dict(scope["headers"])
    origin = headers.get(b"origin", b"").decode("latin-1").lower()
    if not origin or "*" in origins or origin in origins:
        return False
    return origin.split("://", 1)[-1] != headers.get(b"host", b"").decode("latin-1").lower()


class AllowedHosts:
    """Pure ASGI: 400 for a Host header not allowed, 403 for another site's local-mode API write,
    before any route runs."""

    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.names = {h.lower() for h in settings.allowed_hosts}
        self.any = "*" in self.names or (not self.names and bool(settings.api_keys))
        self.local_mode = not settings.api_keys
        self.origins = {o.lower().rstrip("/") for o in settings.cors_origins}

    def allows(self, name: str) -> bool:
        if self.any or name in self.names:
            return True
        return not name or (not self.names and default_allows(name))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self.allows(host_name(scope["headers"])):
            return await _refuse(send, 400, REFUSED)
        if cross_site_write(scope, self.local_mode, self.origins):
            return await _refuse(send, 403, CROSS_SITE)
        await self.app(scope, receive, send)


async def _refuse(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

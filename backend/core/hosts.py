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

REFUSED = b"this server does not answer to that host name (CLOSETCHAT_ALLOWED_HOSTS)"


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


class AllowedHosts:
    """Pure ASGI: 400 for a Host header not allowed, before any route runs."""

    def __init__(self, app, settings: Settings) -> None:
        self.app = app
        self.names = {h.lower() for h in settings.allowed_hosts}
        self.any = "*" in self.names or (not self.names and bool(settings.api_keys))

    def allows(self, name: str) -> bool:
        if self.any or name in self.names:
            return True
        return not name or (not self.names and default_allows(name))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.allows(host_name(scope["headers"])):
            return await self.app(scope, receive, send)
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(REFUSED)).encode())]})
        await send({"type": "http.response.body", "body": REFUSED})

"""Pure ASGI middleware: the anonymous browser cookie and the security headers."""

from __future__ import annotations

from http.cookies import SimpleCookie

from backend.core.identity import COOKIE_MAX_AGE, COOKIE_NAME, RENEW_AFTER, BrowserIdentity

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
# the API docs page loads its script and styles inline; relax only there
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class BrowserId:
    """The browser's id, read from its cookie (or made, and then sent back as a cookie) only when a
    route asks for it: API calls, static files and health checks neither parse nor get a cookie."""

    def __init__(self, identity: BrowserIdentity, cookie_header: str | None) -> None:
        self._identity = identity
        self._cookie_header = cookie_header
        self._value: str | None = None
        self.issued = False  # a new id: no valid cookie came
        self.renew = False  # the cookie's signature is old enough to be signed again

    @property
    def value(self) -> str:
        if self._value is None:
            read = self._identity.read(_cookie_value(self._cookie_header))
            if read is None:
                self._value, self.issued = self._identity.new_id(), True
            else:
                self._value, self.renew = read[0], read[1] >= RENEW_AFTER
        return self._value


def _cookie_value(header: str | None) -> str | None:
    """Our cookie's value in a Cookie header, if it has one."""
    if not header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return None
    return jar[COOKIE_NAME].value if COOKIE_NAME in jar else None


def may_issue_cookie(scope) -> bool:
    """Only a safe request may be answered with a new identity. A post that arrives without our
    cookie is usually a cross-site form (SameSite=Lax held the cookie back): a Set-Cookie on its
    refusal would overwrite the visitor's real id and cut them off from every conversation. A
    cross-site subresource (an <img>, a fetch) carries no Lax cookie either, so it gets none."""
    if scope["method"] not in ("GET", "HEAD"):
        return False
    headers = dict(scope["headers"])
    cross_site = headers.get(b"sec-fetch-site") == b"cross-site"
    return not cross_site or headers.get(b"sec-fetch-mode", b"navigate") == b"navigate"


class BrowserIdentityMiddleware:
    """Gives every browser a signed random id cookie; request.state.browser.value holds the id.
    The cookie is sent only on safe requests (see may_issue_cookie); a refused post sets none."""

    def __init__(self, app, identity: BrowserIdentity, secure: bool = False) -> None:
        self.app = app
        self.identity = identity
        self.secure = secure

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cookies = [value.decode("latin-1") for name, value in scope["headers"] if name == b"cookie"]
        browser = BrowserId(self.identity, "; ".join(cookies))  # HTTP/2 may split the header
        scope.setdefault("state", {})["browser"] = browser
        may_issue = may_issue_cookie(scope)

        async def send_with_cookie(message):
            if may_issue and (browser.issued or browser.renew) and message["type"] == "http.response.start":
                attrs = f"; Max-Age={COOKIE_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"
                if self.secure:
                    attrs += "; Secure"
                header = f"{COOKIE_NAME}={self.identity.sign(browser.value)}{attrs}".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", header)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class SecurityHeadersMiddleware:
    """CSP, nosniff and the rest on every response, an unexpected error's 500 included: Starlette
    answers those outside every user middleware, without the headers (#28: the date overflow's 500)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        csp = DOCS_CSP if scope["path"] == "/docs" else CSP
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"content-security-policy"]
                headers += SECURITY_HEADERS + [(b"content-security-policy", csp.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:  # answered here, with the headers; raised on for the server's log
                await send_with_headers({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(SERVER_ERROR)).encode())]})
                await send({"type": "http.response.body", "body": SERVER_ERROR})
            raise


SERVER_ERROR = b"Something went wrong on our side; please try again."

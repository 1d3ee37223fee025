"""Who is asking: an anonymous browser (signed, HttpOnly, SameSite cookie) or an API key.

The owner string stored on every row is "b:<random id>" for a browser and "k:<key digest>" for
an API key ("local" when no keys are configured), so nothing can be read across identities.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE_NAME = "closetchat_id"
COOKIE_MAX_AGE = 60 * 60 * 24 * 365 * 2
LOCAL_OWNER = "local"
MAX_COOKIE_CHARS = 256  # a signed id of at most 64 characters takes about 120


class BrowserIdentity:
    """Issues and verifies the anonymous browser id cookie and its CSRF token."""

    def __init__(self, secret: str) -> None:
        self._cookie = URLSafeSerializer(secret, salt="closetchat-browser")
        self._secret = secret.encode()

    def new_id(self) -> str:
        return secrets.token_urlsafe(18)

    def sign(self, browser_id: str) -> str:
        return self._cookie.dumps(browser_id)

    def verify(self, cookie: str | None) -> str | None:
        """The browser id a cookie carries, or None when it is missing, too long or not ours."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        try:
            value = self._cookie.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) and 8 <= len(value) <= 64 else None

    def csrf_token(self, browser_id: str) -> str:
        """Derived from the browser id: a page from another site cannot know it."""
        return hmac.new(self._secret, b"csrf:" + browser_id.encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, browser_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(browser_id), token)


def browser_owner(browser_id: str) -> str:
    return f"b:{browser_id}"


def api_key_owner(key: str) -> str:
    return "k:" + hashlib.sha256(key.encode()).hexdigest()[:32]

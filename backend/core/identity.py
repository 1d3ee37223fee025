"""Who is asking: an anonymous browser (signed, HttpOnly, SameSite cookie) or an API key.

The owner string stored on every row is "b:<random id>" for a browser and "k:<key digest>" for
an API key ("local" when no keys are configured), so nothing can be read across identities.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

COOKIE_NAME = "closetchat_id"
# Browsers keep a cookie at most 400 days (Chrome's cap); a signature older than that is refused too.
# An id is signed again, silently, on a page visited a day or more after its signature, so a browser
# in use keeps its id for good while a cookie copied once stops working 400 days later.
COOKIE_MAX_AGE = 60 * 60 * 24 * 400
RENEW_AFTER = 60 * 60 * 24
LOCAL_OWNER = "local"
MAX_COOKIE_CHARS = 256  # a signed id of at most 64 characters takes about 130


class BrowserIdentity:
    """Issues and verifies the anonymous browser id cookie and its CSRF token."""

    def __init__(self, secret: str) -> None:
        self._cookie = URLSafeTimedSerializer(secret, salt="closetchat-browser")
        self._untimed = URLSafeSerializer(secret, salt="closetchat-browser")  # cookies issued before expiry
        self._secret = secret.encode()

    def new_id(self) -> str:
        return secrets.token_urlsafe(18)

    def sign(self, browser_id: str) -> str:
        return self._cookie.dumps(browser_id)

    def read(self, cookie: str | None) -> tuple[str, float] | None:
        """(browser id, seconds since it was signed) from a cookie; None when it is missing, too
        long, not ours or older than COOKIE_MAX_AGE. A cookie signed before signatures carried
        their time is accepted as due for renewal."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        try:
            value, signed_at = self._cookie.loads(cookie, max_age=COOKIE_MAX_AGE, return_timestamp=True)
            age = time.time() - signed_at.timestamp()
        except SignatureExpired:
            return None
        except BadSignature:
            try:
                value, age = self._untimed.loads(cookie), float(RENEW_AFTER)
            except BadSignature:
                return None
        return (value, age) if isinstance(value, str) and 8 <= len(value) <= 64 else None

    def verify(self, cookie: str | None) -> str | None:
        """The browser id a cookie carries, or None (see read)."""
        read = self.read(cookie)
        return read[0] if read else None

    def csrf_token(self, browser_id: str) -> str:
        """Derived from the browser id: a page from another site cannot know it."""
        return hmac.new(self._secret, b"csrf:" + browser_id.encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, browser_id: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(browser_id), token)


def browser_owner(browser_id: str) -> str:
    return f"b:{browser_id}"


def api_key_owner(key: str) -> str:
    return "k:" + hashlib.sha256(key.encode()).hexdigest()[:32]

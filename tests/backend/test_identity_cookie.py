"""The identity cookie is the only key to a browser's chats: a request that arrives without it
(a cross-site form post, where SameSite=Lax keeps it back) must never be answered with a new one,
or the visitor's browser would overwrite theirs and lose every conversation."""

import re
import time

import pytest

from backend.core.identity import COOKIE_NAME
from tests.conftest import csrf_of

REFUSED_POSTS = [
    ("/c", {"text": "hello"}),
    ("/c/0123456789abcdef/messages", {"text": "hello"}),
    ("/c/0123456789abcdef/rename", {"title": "pwned"}),
    ("/c/0123456789abcdef/delete", {}),
    ("/predictions/0123456789abcdef/feedback", {"label": "Shirt"}),
    ("/history/delete", {"ids": "0123456789abcdef"}),
]


@pytest.mark.parametrize(("path", "data"), REFUSED_POSTS)
def test_cookieless_post_is_refused_without_a_cookie(client, path, data):
    r = client.post(path, data=data, follow_redirects=False)
    assert r.status_code == 403, r.text
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(("path", "data"), REFUSED_POSTS[:2])
def test_forged_or_stale_cookie_post_is_not_replaced(client, path, data):
    """A cookie we cannot verify (another secret, tampered) is not answered with a new one on a post."""
    client.cookies.set(COOKIE_NAME, "not-a-signed-value.abc")
    r = client.post(path, data=data, files={"files": ("", b"", "application/octet-stream")}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers


def test_page_get_issues_the_cookie_and_the_browser_keeps_it(client):
    token = csrf_of(client)
    first = client.cookies[COOKIE_NAME]
    r = client.post("/c", data={"csrf_token": token, "text": "hello"}, follow_redirects=False)
    assert r.status_code == 303 and "set-cookie" not in r.headers
    assert client.cookies[COOKIE_NAME] == first


def test_cross_site_subresource_get_gets_no_cookie(client):
    """An <img> or fetch from another site carries no Lax cookie; its answer must not plant one."""
    r = client.get("/", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors",
                                 "sec-fetch-dest": "image"})
    assert "set-cookie" not in r.headers
    nav = client.get("/", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"})
    assert "set-cookie" in nav.headers


def _signed(secret: str, browser_id: str, days_ago: float) -> str:
    """A cookie as the server would have signed it days_ago (the signer's clock set back)."""
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - days_ago * 86400)

    return URLSafeTimedSerializer(secret, salt="closetchat-browser", signer=Then).dumps(browser_id)


def _page_token(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)


def test_a_signature_past_the_max_age_is_a_new_browser(client, settings):
    identity = client.app.state.identity
    client.cookies.set(COOKIE_NAME, _signed(settings.secret_key, "an-old-browser-id", days_ago=401))
    r = client.post("/c", data={"csrf_token": identity.csrf_token("an-old-browser-id"), "text": "hi"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = client.get("/")
    assert identity.verify(r.cookies[COOKIE_NAME]) not in (None, "an-old-browser-id")


def test_an_old_signature_is_renewed_silently_on_a_page(client, settings):
    """A day or more after its signature, a page signs the same id again: the browser keeps its chats."""
    identity = client.app.state.identity
    token = csrf_of(client)
    url = client.post("/c", data={"csrf_token": token, "text": "mine"}, follow_redirects=False).headers["location"]
    browser_id = identity.verify(client.cookies[COOKIE_NAME])
    client.cookies.set(COOKIE_NAME, _signed(settings.secret_key, browser_id, days_ago=2))
    post = client.post(url + "/rename", data={"csrf_token": token, "title": "still mine"}, follow_redirects=False)
    assert post.status_code == 303 and "set-cookie" not in post.headers  # posts never set it
    page = client.get(url)
    assert page.status_code == 200 and "still mine" in page.text
    renewed = page.cookies[COOKIE_NAME]
    assert identity.verify(renewed) == browser_id and identity.read(renewed)[1] < 60
    assert f"Max-Age={60 * 60 * 24 * 400}" in page.headers["set-cookie"]
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, renewed)
    assert "set-cookie" not in client.get(url).headers  # fresh now: not sent again


def test_a_cookie_signed_before_expiry_existed_is_kept_and_renewed(client, settings):
    from itsdangerous import URLSafeSerializer

    identity = client.app.state.identity
    token = csrf_of(client)
    url = client.post("/c", data={"csrf_token": token, "text": "kept"}, follow_redirects=False).headers["location"]
    browser_id = identity.verify(client.cookies[COOKIE_NAME])
    client.cookies.set(COOKIE_NAME, URLSafeSerializer(settings.secret_key, salt="closetchat-browser").dumps(browser_id))
    page = client.get(url)
    assert page.status_code == 200 and "kept" in page.text
    assert identity.verify(page.cookies[COOKIE_NAME]) == browser_id and _page_token(client) == token

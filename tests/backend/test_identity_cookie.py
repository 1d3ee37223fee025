"""The identity cookie is the only key to a browser's chats: a request that arrives without it
(a cross-site form post, where SameSite=Lax keeps it back) must never be answered with a new one,
or the visitor's browser would overwrite theirs and lose every conversation."""

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

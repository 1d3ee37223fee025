"""Another site's page auto-submits forms at ClosetChat in a real browser. SameSite=Lax keeps the
visitor's cookie off those posts; the refusal must not plant a new cookie in its place, so the
visitor keeps their id and their conversations."""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow  # a real server and a real browser


def _attacker_site(target: str):
    """A second origin (localhost, a different site from 127.0.0.1) whose page posts to target."""
    page = (f'<form id="f" method="post" action="{target}"><input name="title" value="pwned">'
            '<input name="text" value="pwned"></form><script>document.getElementById("f").submit()</script>')

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = page.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://localhost:{httpd.server_address[1]}/"


@pytest.mark.parametrize("action", ["delete", "new", "rename"])
def test_cross_site_form_post_leaves_cookie_and_conversations(server, page, action, console):
    console.expect(r"status of 403 .*/c(/[0-9a-f]+/(delete|rename))?\)$")  # the refusal the test is about
    page.goto(server + "/")
    page.fill("#text", "which classes do you know?")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    conversation = page.url
    before = {c["name"]: c["value"] for c in page.context.cookies()}
    target = {"delete": conversation + "/delete", "new": server + "/c", "rename": conversation + "/rename"}[action]
    httpd, attacker = _attacker_site(target)
    try:
        with page.expect_response(lambda r: r.url == target) as posted:
            page.goto(attacker)
        assert posted.value.status == 403
        assert posted.value.header_value("set-cookie") is None
    finally:
        httpd.shutdown()
    assert {c["name"]: c["value"] for c in page.context.cookies()} == before
    page.goto(conversation)
    expect(page.locator(".bubble.user").first).to_contain_text("which classes do you know?")
    expect(page.locator("#conversation-list, nav").first).not_to_contain_text("pwned")

"""Sharing a conversation read-only, in real browsers: the link opens in a fresh context (no
owner's cookie), shows that thread and nothing else, and is 404 once revoked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import console_errors
from tests.conftest import fashion_png

pytestmark = pytest.mark.slow  # a real server and a real browser


def _chat(page, server, fashion_test, indexes) -> str:
    page.goto(server + "/")
    page.set_input_files("#composer input[type=file][multiple]",
                         files=[{"name": f"sh{i}.png", "mimeType": "image/png", "buffer": fashion_png(fashion_test, i)}
                                for i in indexes])
    page.click("#composer button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    expect(page.locator(".reply")).to_have_count(len(indexes))
    return page.url


def test_share_read_only_then_revoke(server, page, browser, fashion_test, console):
    other_chat = _chat(page, server, fashion_test, [1])  # the owner's other chat: never visible
    other_photo = page.locator(".bubble.image a").first.get_attribute("href").split("/")[2]
    shared_chat = _chat(page, server, fashion_test, [0, 2])
    page.get_by_role("button", name="Share").click()
    link = page.get_by_label("Read-only link")
    expect(link).to_have_value(re.compile(r"/s/[A-Za-z0-9_-]{32}$"))
    url = link.input_value()

    stranger = browser.new_context()
    view = stranger.new_page()
    errors = console_errors(view)
    assert view.goto(url).status == 200
    expect(view.get_by_role("heading", level=1)).to_have_text("Ankle boot and 1 more")
    expect(view.locator(".reply")).to_have_count(2)
    view.wait_for_function("() => [...document.querySelectorAll('.bubble.image img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    expect(view.locator("#composer, .correct, .reply-actions, .saw, #conversation-list")).to_have_count(0)
    assert errors == []  # (the 404s below are meant)
    console.expect(r"status of 404 .*/(c/[0-9a-f]+|s/[\w-]+)\)$")
    token = url.rsplit("/", 1)[1]
    assert view.request.get(f"{server}/s/{token}/media/{other_photo}/thumb").status == 404
    assert view.goto(shared_chat).status == 404  # the owner's own address stays the owner's
    assert view.goto(other_chat).status == 404
    view.goto(server + "/history")
    expect(view.locator(".results-summary")).to_contain_text("0 predictions")

    page.get_by_role("button", name="Stop sharing").click()
    expect(page.get_by_role("button", name="Share")).to_be_visible()
    assert view.goto(url).status == 404
    assert view.request.get(f"{server}/s/{token}/media/{other_photo}/thumb").status == 404
    page.get_by_role("button", name="Share").click()
    assert page.get_by_label("Read-only link").input_value() != url  # a new link
    stranger.close()

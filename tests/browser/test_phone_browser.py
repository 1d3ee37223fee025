"""The chat on a phone (390×844): a compact header and the conversation list in a drawer behind a
button that says whether it is open, closes on Escape and moves focus sensibly."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import axe_violations
from tests.conftest import fashion_png

pytestmark = pytest.mark.slow  # a real server and a real browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
FILES = "#composer input[type=file][multiple]"


def two_conversations(page, server, fashion_test) -> list[str]:
    urls = []
    for i in (0, 2):
        page.goto(server + "/")
        page.set_input_files(FILES, files=[{"name": f"p{i}.png", "mimeType": "image/png",
                                            "buffer": fashion_png(fashion_test, i)}])
        page.click("#composer button[type=submit]")
        page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
        expect(page.locator(".reply")).to_have_count(1)
        urls.append(page.url)
    return urls


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE, bypass_csp=True)  # bypass_csp: axe is injected inline
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def test_drawer_opens_closes_and_moves_focus(server, phone, fashion_test):
    boot, trouser = two_conversations(phone, server, fashion_test)
    toggle = phone.get_by_role("button", name="Conversations")
    other = phone.locator("#conversation-list a", has_text="Ankle boot")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_attribute("aria-controls", "conversations")
    expect(other).to_be_hidden()  # the list waits behind the button

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(other).to_be_visible()
    expect(phone.locator("#conversation-list a[aria-current=page]")).to_be_focused()  # the open chat's entry
    assert axe_violations(phone) == []
    phone.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(other).to_be_hidden()
    expect(toggle).to_be_focused()  # back where it was opened

    phone.keyboard.press("Enter")  # from the keyboard alone
    expect(toggle).to_have_attribute("aria-expanded", "true")
    phone.get_by_role("button", name="Close the list").click()
    expect(other).to_be_hidden()
    expect(toggle).to_be_focused()

    toggle.click()
    phone.mouse.click(370, 500)  # a tap on the thread beside the drawer closes it
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(other).to_be_hidden()

    toggle.click()
    phone.locator(".new-chat").focus()  # the drawer's first stop
    phone.keyboard.press("Shift+Tab")  # focus leaving the drawer (to the top bar) closes it as well
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(other).to_be_hidden()

    toggle.click()
    other.click()  # a chat picked in the drawer opens
    phone.wait_for_url(boot)
    expect(phone.locator(".reply .answer")).to_contain_text("Ankle boot")
    expect(phone.get_by_role("button", name="Conversations")).to_have_attribute("aria-expanded", "false")

    phone.keyboard.press("/")  # the search shortcut opens the drawer on its field
    expect(phone.locator("#search")).to_be_focused()
    expect(phone.get_by_role("button", name="Conversations")).to_have_attribute("aria-expanded", "true")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_compact_header_puts_the_thread_near_the_top(server, phone, fashion_test, scheme):
    phone.emulate_media(color_scheme=scheme)
    two_conversations(phone, server, fashion_test)
    top = phone.locator("#thread").bounding_box()["y"]
    assert top <= 100, top  # was 137 px of bars: the top bar, a strip of chats, the chat's own bar
    header = phone.locator(".chat-header").bounding_box()
    assert header["height"] <= 50, header  # one row: the drawer button, the name, Delete chat, Share
    phone.goto(server + "/")  # a new chat: the button and nothing else above the thread
    assert phone.locator("#thread").bounding_box()["y"] <= 100
    expect(phone.get_by_role("button", name="Conversations")).to_be_visible()
    assert axe_violations(phone) == []


def test_on_a_wide_screen_the_list_is_always_shown(server, page, fashion_test):
    two_conversations(page, server, fashion_test)
    expect(page.locator("#conversation-list a")).to_have_count(2)
    expect(page.locator("#conversation-list a").first).to_be_visible()
    expect(page.locator(".drawer-toggle")).to_be_hidden()
    page.goto(server + "/")
    expect(page.locator(".chat-header")).to_be_hidden()  # a new chat has no bar above its thread


def test_without_javascript_the_list_shows_above_the_thread(server, browser):
    context = browser.new_context(**PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "/")
    expect(page.get_by_role("link", name="+ New chat")).to_be_visible()
    expect(page.locator("#search")).to_be_visible()
    expect(page.locator(".drawer-toggle")).to_be_hidden()  # it would do nothing
    context.close()

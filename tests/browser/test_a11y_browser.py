"""Accessibility in a real browser: axe-core on chat and History (light and dark), the focus
ring's contrast, and a photo sent and corrected with the keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import axe_violations, console_errors
from tests.conftest import fashion_png

pytestmark = pytest.mark.slow  # a real server and a real browser


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


def contrast(a: str, b: str) -> float:
    def luminance(rgb):
        lin = [(c / 255) / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((luminance(_rgb(a)), luminance(_rgb(b))), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_chat_and_history(server, browser, fashion_test, scheme):
    # Playwright injects axe as an inline script: this context alone lifts the CSP to allow it
    context = browser.new_context(bypass_csp=True, color_scheme=scheme)
    page = context.new_page()
    page.goto(server + "/")
    assert axe_violations(page) == []
    page.set_input_files("#composer input[type=file][multiple]",
                         files=[{"name": f"a{i}.png", "mimeType": "image/png", "buffer": fashion_png(fashion_test, i)}
                                for i in range(2)])
    page.click("#composer button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    expect(page.locator(".reply")).to_have_count(2)
    page.locator("details.correct summary").first.click()
    assert axe_violations(page) == []
    page.goto(server + "/history")
    assert axe_violations(page) == []
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_focus_ring_has_three_to_one_contrast(server, browser, scheme):
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(server + "/")
    page.focus("#text")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focused from the keyboard, so :focus-visible applies
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    for where in ("body", "#composer"):
        behind = page.evaluate(f"getComputedStyle(document.querySelector('{where}')).backgroundColor")
        assert contrast(ring, behind) >= 3, (scheme, where, ring, behind)
    context.close()


def test_send_and_correct_with_the_keyboard_alone(server, page, fashion_test):
    errors = console_errors(page)
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    page.goto(server + "/")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Enter")
    for _ in range(30):  # past the examples, on to the Photos button
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('#composer input[type=file][multiple]')"):
            break
    with page.expect_file_chooser():  # the picker opens on the browser's time, not a fixed sleep's
        page.keyboard.press("Enter")
    assert len(choosers) == 1
    choosers[0].set_files(files=[{"name": "k.png", "mimeType": "image/png", "buffer": fashion_png(fashion_test, 2)}])
    expect(page.locator("#tray img")).to_have_count(1)
    page.keyboard.press("Tab")  # Camera
    page.keyboard.press("Tab")  # the message
    expect(page.locator("#text")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    expect(page.locator(".reply")).to_have_count(1)
    page.locator("details.correct summary").focus()
    page.keyboard.press("Enter")  # opens the chips
    page.keyboard.press("Tab")
    expect(page.locator(".reply .chip").first).to_be_focused()
    page.keyboard.press("Tab")  # T-shirt/top, then Trouser: what it said
    page.keyboard.press("Enter")
    expect(page.locator(".reply")).to_contain_text("You confirmed it's a Trouser")
    focused = page.locator(".reply .chip[aria-pressed=true]")
    expect(focused).to_be_focused()
    assert focused.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    assert errors == []


def test_keyboard_shortcuts_and_their_help(server, page, fashion_test):
    errors = console_errors(page)
    page.goto(server + "/history")
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("New chat")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.keyboard.press("?")
    # a key in the same frame as the close (focus still on the closed dialog's button, as
    # Chromium leaves it until the next frame) is a shortcut, not ignored as typing in the dialog
    page.evaluate("""() => { document.getElementById("shortcuts").close();
        document.activeElement.dispatchEvent(new KeyboardEvent("keydown", {key: "n", bubbles: true})); }""")
    page.wait_for_url(server + "/")
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    page.keyboard.type("c")  # typed into the search field, not a shortcut
    expect(page.locator("#search")).to_have_value("c")
    page.locator("main").focus()
    page.keyboard.press("c")
    expect(page.locator("#text")).to_be_focused()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    page.locator("main").focus()
    page.keyboard.press("h")
    page.wait_for_url(server + "/history")
    assert errors == []

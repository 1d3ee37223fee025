"""History in a real browser: one scroll container down to "Older →", the phone layout, the
small correctness fixes (empty delete, corrections, deleted chats, pages past the end)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import console_errors, seed_photos
from tests.conftest import fashion_png

pytestmark = pytest.mark.slow  # a real server and a real browser


@pytest.fixture(scope="module")
def seeded(server, browser, fashion_test, tmp_path_factory):
    """A browser identity with 52 predictions (two History pages), as saved storage state."""
    context = browser.new_context()
    page = context.new_page()
    seed_photos(page, server, fashion_test, count=52)
    state = tmp_path_factory.mktemp("state") / "state.json"
    context.storage_state(path=str(state))
    context.close()
    return str(state)


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)])
def test_history_scrolls_once_down_to_older(server, browser, seeded, size):
    context = browser.new_context(storage_state=seeded, viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    errors = console_errors(page)
    page.goto(server + "/history")
    expect(page.locator(".results-summary")).to_contain_text("52 predictions")
    # the page itself never scrolls: main is the only scroll container
    assert page.evaluate("document.documentElement.scrollHeight") <= size[1]
    page.evaluate("document.querySelector('main').scrollTop = 1e7")
    older = page.get_by_role("link", name="Older →")
    expect(older).to_be_in_viewport()
    box = older.bounding_box()
    assert 0 < box["y"] and box["y"] + box["height"] <= size[1]
    assert page.evaluate("document.documentElement.scrollTop") == 0
    assert errors == []
    context.close()


def _new_chat(page, server, fashion_test, indexes) -> str:
    page.goto(server + "/")
    page.set_input_files("#composer input[type=file][multiple]",
                         files=[{"name": f"c{i}.png", "mimeType": "image/png", "buffer": fashion_png(fashion_test, i)}
                                for i in indexes])
    page.click("#composer button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    expect(page.locator(".reply")).to_have_count(len(indexes))
    return page.url


def test_delete_selected_with_nothing_ticked_says_so_in_place(server, seeded, browser, console):
    console.expect(r"status of 422 .*/history/delete\)")  # the refusal, shown in place
    context = browser.new_context(storage_state=seeded)
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    page.goto(server + "/history")
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator("#delete-notice")).to_have_text("Tick the predictions to delete first.")
    expect(page.locator("tbody tr")).to_have_count(50)
    expect(page.locator(".bubble")).to_have_count(0)
    context.close()


def test_page_past_the_end_shows_the_last_page_and_times_are_local(server, seeded, browser):
    context = browser.new_context(storage_state=seeded, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(server + "/history?page=9")
    expect(page.locator(".results-summary")).to_contain_text("page 2 of 2")
    expect(page.locator("tbody tr")).to_have_count(2)
    when = page.locator("tbody time").first
    expect(when).to_contain_text("GMT+9")  # the reader's zone, named
    assert when.get_attribute("title").endswith("UTC")
    context.close()


def test_corrections_confirmations_and_a_deleted_chat(server, page, fashion_test):
    errors = console_errors(page)
    _new_chat(page, server, fashion_test, [0, 2])  # an Ankle boot, a Trouser
    first = page.locator(".reply").first
    first.get_by_text("Wrong? Pick the right class").click()
    boot = first.get_by_role("button", name="Ankle boot")
    boot.focus()
    page.keyboard.press("Enter")  # the class it said: a confirmation
    reply = page.locator(".reply").first
    expect(reply).to_contain_text("You confirmed it's an Ankle boot")
    expect(reply.get_by_role("button", name="Ankle boot")).to_have_attribute("aria-pressed", "true")
    expect(reply.get_by_role("button", name="Ankle boot")).to_be_focused()  # focus stays on the chip
    reply.get_by_role("button", name="Bag").click()
    expect(page.locator(".reply").first).to_contain_text("You said it's a Bag")
    expect(page.locator(".reply").first.get_by_role("button", name="Bag")).to_be_focused()

    # History's class filter and column follow the correction
    page.goto(server + "/history?label=Bag")
    expect(page.locator(".results-summary")).to_contain_text("1 prediction")
    expect(page.locator("tbody tr").first).to_contain_text("Bag (model: Ankle boot)")

    # a deleted chat's rows stay, marked as such (never "API")
    page.locator("tbody tr a", has_text="Open").click()
    page.on("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete chat").click()
    page.wait_for_url(server + "/")
    page.goto(server + "/history")
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.locator("tbody")).not_to_contain_text("API")
    expect(page.locator("tbody tr").first).to_contain_text("Chat deleted")
    assert errors == []


def test_rename_sets_the_tab_title(server, page, fashion_test):
    _new_chat(page, server, fashion_test, [2])
    page.fill("#title", "My trousers")
    page.get_by_role("button", name="Rename").click()
    expect(page).to_have_title("My trousers · ClosetChat")
    expect(page.locator(".conversation-list a[aria-current=page]")).to_have_text("My trousers")


def test_correction_without_javascript_returns_to_history(server, browser, fashion_test):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "/")
    page.set_input_files("#composer input[type=file][multiple]",
                         files=[{"name": "nojs.png", "mimeType": "image/png", "buffer": fashion_png(fashion_test, 2)}])
    page.click("#composer button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    page.goto(server + "/history")
    row = page.locator("tbody tr").first
    row.locator("select").select_option("Dress")
    row.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/history"))
    expect(page.locator("tbody tr").first).to_contain_text("Dress (model: Trouser)")
    context.close()


def test_phone_shows_the_thread_and_the_first_rows_without_scrolling(server, seeded, browser):
    context = browser.new_context(storage_state=seeded, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(server + "/history")
    first = page.locator("tbody tr").first
    assert first.bounding_box()["y"] + first.bounding_box()["height"] <= 844  # filters, charts folded
    expect(page.locator("details.panel").first).not_to_have_attribute("open", "")
    page.get_by_text("Filters and sorting").click()
    page.select_option("select[name=sort]", "oldest")  # the panel the reader opened stays open
    expect(page.locator("tbody tr").first).to_contain_text("seed-0.png")
    expect(page.locator("details.panel").first).to_have_attribute("open", "")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.goto(server + "/")
    page.get_by_role("button", name="Conversations").click()  # the list is a drawer on a phone
    page.locator(".conversation-list a").first.click()
    expect(page.locator(".reply")).to_have_count(52)
    assert page.locator("#thread").bounding_box()["y"] < 100  # bars above the thread stay small
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()

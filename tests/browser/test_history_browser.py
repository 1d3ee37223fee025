"""History in a real browser: one scroll container down to "Older →", the phone layout, the
small correctness fixes (empty delete, corrections, deleted chats, pages past the end)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import console_errors, seed_photos

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

"""The console watch in conftest.py: what it catches in every page a test opens."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow  # a real server and a real browser


def test_console_errors_and_uncaught_exceptions_are_caught(server, page, browser, console):
    page.goto(server + "/")
    page.evaluate("console.error('boom from the page')")
    page.evaluate("setTimeout(() => { throw new Error('kaboom') })")
    other = browser.new_context().new_page()  # a context the test made itself is watched too
    other.goto(server + "/history")
    other.evaluate("console.error('boom from another context')")
    caught = ("boom from the page", "uncaught Error: kaboom", "boom from another context")
    for _ in range(100):  # the events come when the pages send them (a timer's throw on a loaded machine: later)
        if all(any(c in e for e in console.errors) for c in caught):
            break
        page.wait_for_timeout(100)
    for c in caught:
        assert any(c in e for e in console.errors), (c, console.errors)
    console.expect("boom|kaboom")  # on purpose: the test passes
    assert console.unexpected() == []
    other.context.close()

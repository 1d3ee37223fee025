"""A real server (uvicorn subprocess on loopback) and Debian's Chromium driven by Playwright.
A failing browser test leaves a screenshot in test-artifacts/.

Every test fails on a console error or an uncaught exception in any page it opened (every
context made through the `browser` fixture is watched). A test that provokes an error on
purpose says which, with `console.expect(pattern)`; nothing is allowed otherwise."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CLOSETCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class ConsoleLog:
    """The console errors and uncaught exceptions of every watched page, for the current test."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expected: list[re.Pattern] = []

    def reset(self) -> None:
        self.errors, self.expected = [], []

    def watch(self, context):
        context.on("console", self._console)
        context.on("weberror", lambda e: self.errors.append(f"uncaught {e.error.name}: {e.error.message}"))
        return context

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "") if message.location else ""
            self.errors.append(f"{message.text} ({where})" if where else message.text)

    def expect(self, pattern: str) -> None:
        """An error this test provokes on purpose (e.g. Chromium logs every 4xx response)."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]


CONSOLE = ConsoleLog()


class WatchedBrowser:
    """The Playwright browser, with every new context (and new_page's own) watched by CONSOLE."""

    def __init__(self, browser) -> None:
        self._browser = browser

    def new_context(self, **kwargs):
        return CONSOLE.watch(self._browser.new_context(**kwargs))

    def new_page(self, **kwargs):
        return self.new_context(**kwargs).new_page()

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    # expect() waits 5 s unless told, half what page actions wait here (set_default_timeout below):
    # a reply (shrink, upload, the model, the swap) on a loaded 2-core CI machine may need more
    expect.set_options(timeout=10_000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield WatchedBrowser(b)
        b.close()


@pytest.fixture(autouse=True)
def console(request):
    """Fails the test on any console error or page error it did not expect (at teardown, after
    its pages are closed)."""
    CONSOLE.reset()
    yield CONSOLE
    unexpected = CONSOLE.unexpected()
    call = getattr(request.node, "rep_call", None)
    if unexpected and call is not None and call.passed:
        pytest.fail("console errors:\n  " + "\n  ".join(unexpected), pytrace=False)
    elif unexpected:
        print("console errors:", *unexpected, sep="\n  ")


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report

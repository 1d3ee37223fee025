"""What the browser tests share: seeding photos through the real composer, console errors, axe."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import fashion_png

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def console_errors(page) -> list[str]:
    """Collects the page's console errors and uncaught exceptions as they happen."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def seed_photos(page, server: str, fashion_test, count: int, batch: int = 16) -> None:
    """Send count Fashion-MNIST test images in one new conversation, batch files per message."""
    page.goto(server + "/")
    sent = 0
    while sent < count:
        n = min(batch, count - sent)
        files = [{"name": f"seed-{sent + i}.png", "mimeType": "image/png",
                  "buffer": fashion_png(fashion_test, sent + i)} for i in range(n)]
        page.set_input_files("#composer input[type=file][multiple]", files=files)
        page.click("#composer button[type=submit]")
        if sent == 0:
            page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
        sent += n
        page.wait_for_function(f"() => document.querySelectorAll('.reply').length >= {sent}")


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now. Playwright injects
    the file as an inline script, so the page's context needs bypass_csp=True."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document)).violations"
                           ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
                           " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))")
    return [v for v in result if v["impact"] in impacts]

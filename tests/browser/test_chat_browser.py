"""The chat in a real browser: drop, reply, reload, privacy, escaping."""

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.conftest import fashion_png

pytestmark = pytest.mark.slow  # a real server and a real browser


def _drop(page, data: bytes, name: str, mime: str):
    """Dispatch a real drop event carrying the file, as a person dragging it from a folder."""
    page.evaluate(
        """([bytes, name, mime]) => {
            const file = new File([new Uint8Array(bytes)], name, {type: mime});
            const dt = new DataTransfer(); dt.items.add(file);
            document.getElementById('thread').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));
        }""",
        [list(data), name, mime],
    )


def test_drop_photo_reply_reload_and_privacy(server, page, browser, fashion_test, console):
    page.goto(server + "/")
    expect(page.get_by_role("heading", name="What garment is this?")).to_be_visible()
    _drop(page, fashion_png(fashion_test, 0), "boot.png", "image/png")
    expect(page.locator("#tray img")).to_have_count(1)  # dropped photos wait in the tray
    page.keyboard.press("Enter")  # the drop focused the message field
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    reply = page.locator(".reply").first
    expect(reply).to_contain_text("Ankle boot")
    expect(page.locator(".bubble.user img").first).to_be_visible()
    url = page.url

    # a second photo in the same thread is appended in place by HTMX (no navigation)
    page.set_input_files("#composer input[type=file][multiple]",
                         files=[{"name": "trouser.png", "mimeType": "image/png", "buffer": fashion_png(fashion_test, 2)}])
    page.click("#composer button[type=submit]")
    expect(page.locator(".reply")).to_have_count(2)
    expect(page.locator(".reply").nth(1)).to_contain_text("Trouser")
    assert page.url == url

    page.reload()
    expect(page.locator(".reply")).to_have_count(2)

    other = browser.new_context()
    other_page = other.new_page()
    console.expect(r"status of 404 .*/c/[0-9a-f]+\)$")  # Chromium logs the refusal
    response = other_page.goto(url)
    assert response.status == 404
    other_page.goto(server + "/history")
    expect(other_page.locator("body")).not_to_contain_text("boot.png")
    other.close()


def test_hostile_file_name_is_shown_as_text(server, page, fashion_test):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server + "/")
    name = "<img src=x onerror=alert(1)>.jpg"
    page.set_input_files("#composer input[type=file][multiple]",
                         files=[{"name": name, "mimeType": "image/png", "buffer": fashion_png(fashion_test, 1)}])
    page.click("#composer button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    expect(page.locator(".bubble.user .filename").first).to_have_text(name)
    page.reload()
    expect(page.locator(".bubble.user .filename").first).to_have_text(name)
    assert dialogs == []


def test_bad_file_gets_a_friendly_message(server, page, console):
    console.expect(r"status of 415 .*/c\)$")  # the refusal, shown as a chat bubble
    page.goto(server + "/")
    page.set_input_files("#composer input[type=file][multiple]",
                         files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"just text"}])
    page.click("#composer button[type=submit]")
    expect(page.locator(".bubble.error")).to_contain_text("not an image")


def test_text_question_and_phone_width(server, page, browser):
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(server + "/")
    page.fill("#text", "which classes do you know?")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    expect(page.locator(".bubble.assistant").last).to_contain_text("Ankle boot")
    # nothing overflows the phone's width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_history_correct_in_place_and_filter(server, page, fashion_test):
    page.goto(server + "/")
    page.set_input_files("#composer input[type=file][multiple]",
                         files=[{"name": f"h{i}.png", "mimeType": "image/png", "buffer": fashion_png(fashion_test, i)}
                                for i in range(3)])
    page.click("#composer button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    expect(page.locator(".reply")).to_have_count(3)
    page.goto(server + "/history")
    expect(page.locator(".results-summary")).to_contain_text("3 predictions")
    first_row = page.locator("tbody tr").first
    row_id = first_row.get_attribute("id")
    with page.expect_response(lambda r: "/feedback" in r.url and r.status == 200):
        first_row.locator("select").select_option("Bag")
    expect(page.locator(f"#{row_id} select")).to_have_value("Bag")  # swapped in place by HTMX
    page.select_option("select[name=corrected]", "true")
    expect(page.locator(".results-summary")).to_contain_text("1 prediction")
    assert "corrected=true" in page.url  # the filter is in the address, so it can be shared or reloaded


def test_thread_stays_at_the_newest_message_as_photos_load(server, page):
    """Photos load after the page has scrolled to the end; the thread must end up at the end
    (the newest answer in view), not where the end was before the images had their heights."""
    from tests.conftest import jpeg_bytes

    page.goto(server + "/")
    files = [{"name": f"tall-{i}.jpg", "mimeType": "image/jpeg",
              "buffer": jpeg_bytes(colour=(40 + 50 * i, 60, 200 - 40 * i))} for i in range(4)]
    page.set_input_files("#composer input[type=file][multiple]", files=files)
    page.click("#composer button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    for _ in range(2):  # as sent, then as reloaded
        expect(page.locator(".reply")).to_have_count(4)
        page.wait_for_function("""() => [...document.querySelectorAll('#thread .bubble.image img')]
                                      .every(img => img.complete && img.naturalHeight > 0)""")
        # once every photo has its height the thread's height is final; the last load handler's
        # scroll may still be a task away (on a loaded machine, longer than any fixed sleep)
        gap = "() => { const t = document.getElementById('thread'); return t.scrollHeight - t.scrollTop - t.clientHeight; }"
        try:
            page.wait_for_function(f"() => ({gap})() < 5", timeout=5_000)
        except PlaywrightTimeoutError:
            pytest.fail(f"thread left {page.evaluate(gap)}px above its end")
        page.reload()


def test_search_chats_by_name_or_class(server, page, fashion_test):
    """The sidebar's search matches a chat's name or a class one of its photos was answered (or
    corrected) as."""
    for index in (0, 2):  # an Ankle boot chat, a Trouser chat
        page.goto(server + "/")
        page.set_input_files("#composer input[type=file][multiple]",
                             files=[{"name": f"s{index}.png", "mimeType": "image/png",
                                     "buffer": fashion_png(fashion_test, index)}])
        page.click("#composer button[type=submit]")
        page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
        expect(page.locator(".reply")).to_have_count(1)
    page.fill("#title", "Holiday packing")
    page.get_by_role("button", name="Rename").click()
    expect(page).to_have_title("Holiday packing · ClosetChat")
    chats = page.locator("#conversation-list a")
    page.fill("#search", "boot")
    expect(chats).to_have_text(["Ankle boot"])
    page.fill("#search", "trous")  # the Trouser photo's chat, renamed
    expect(chats).to_have_text(["Holiday packing"])
    expect(chats.first).to_have_attribute("aria-current", "page")
    page.fill("#search", "sneaker")
    expect(page.locator("#conversation-list")).to_contain_text("No chat matches “sneaker”.")
    page.fill("#search", "")
    expect(chats).to_have_count(2)


def test_message_actions_copy_enlarge_delete(server, browser, fashion_test):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(server + "/")
    page.set_input_files("#composer input[type=file][multiple]",
                         files=[{"name": f"m{i}.png", "mimeType": "image/png", "buffer": fashion_png(fashion_test, i)}
                                for i in (0, 2)])
    page.click("#composer button[type=submit]")
    page.wait_for_url(re.compile(r"/c/[0-9a-f]+$"))
    expect(page.locator(".reply")).to_have_count(2)

    first = page.locator(".reply").first
    copy = first.get_by_role("button", name="Copy answer")
    # "Copied" shows for 1.5 s: a recorder of the button's labels cannot miss it on a slow machine
    copy.evaluate("""b => { window.copyLabels = [];
        new MutationObserver(() => window.copyLabels.push(b.textContent))
            .observe(b, {childList: true, subtree: true, characterData: true}); }""")
    copy.click()
    page.wait_for_function("() => window.copyLabels.includes('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == first.locator(".answer").inner_text().strip()

    page.locator(".bubble.image a").first.click()  # a lightbox, not a new tab
    big = page.locator("dialog.lightbox img")
    expect(big).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog.lightbox")).to_have_count(0)
    expect(page.locator(".bubble.image a").first).to_be_focused()

    page.on("dialog", lambda d: d.accept())
    page.locator(".reply").nth(1).get_by_role("button", name="Delete m2.png and its answer").click()
    expect(page.locator(".reply")).to_have_count(1)
    expect(page.locator(".bubble.image")).to_have_count(1)
    page.reload()
    expect(page.locator(".reply")).to_have_count(1)
    page.goto(server + "/history")
    expect(page.locator(".results-summary")).to_contain_text("1 prediction")
    context.close()

// ClosetChat's small bit of JavaScript besides the composer (composer.js): paste and drop into
// the tray, try the examples, keep the thread scrolled, a rename in the tab's title, the phone's
// conversation drawer. Everything else is HTMX; without JavaScript the pages are plain forms and
// still work.
(function () {
  "use strict";

  function composer() { return document.getElementById("composer"); }
  function thread() { return document.getElementById("thread"); }

  let autoScrollTop = -1; // where scrollToEnd last put the thread
  function scrollToEnd() {
    const t = thread();
    if (!t) return;
    t.scrollTop = t.scrollHeight;
    autoScrollTop = t.scrollTop;
  }

  // pasted and dropped photos wait in the composer's tray (composer.js) until sent
  document.addEventListener("paste", function (event) {
    if (!composer()) return;
    const files = Array.from(event.clipboardData ? event.clipboardData.files : []).filter(f => f.type.startsWith("image/"));
    if (files.length) { event.preventDefault(); window.closetchat.addToTray(files); }
  });

  document.addEventListener("dragover", function (event) {
    if (!composer()) return;
    event.preventDefault();
    const t = thread(); if (t) t.classList.add("dragging");
  });
  document.addEventListener("dragleave", function (event) {
    if (event.relatedTarget === null) { const t = thread(); if (t) t.classList.remove("dragging"); }
  });
  document.addEventListener("drop", function (event) {
    if (!composer()) return;
    event.preventDefault();
    const t = thread(); if (t) t.classList.remove("dragging");
    if (event.dataTransfer.files.length) window.closetchat.addToTray(Array.from(event.dataTransfer.files));
    const text = document.getElementById("text"); if (text) text.focus();
  });

  // an example is sent at once: it is a "try this", not a photo of one's own
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-example]");
    if (!button) return;
    const response = await fetch(button.dataset.example);
    const blob = await response.blob();
    const name = button.dataset.example.split("/").pop();
    window.closetchat.send("", [new File([blob], name, { type: blob.type || "image/png" })]);
  });

  // a rename shows in the tab's title and the thread's name
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (!form || !form.matches || !form.matches("form.rename") || !event.detail.successful) return;
    const title = form.querySelector("input[name=title]").value.trim().replace(/\s+/g, " ");
    if (!title) return;
    document.title = title + " · ClosetChat";
    const chat = form.closest(".chat"); if (chat) chat.setAttribute("aria-label", title);
    const heading = document.querySelector(".chat-header h1"); if (heading) heading.textContent = title;
  });

  // the skip link moves focus itself, so the next Tab goes on from the page's content
  document.addEventListener("click", function (event) {
    const skip = event.target.closest("a.skip-link");
    const target = skip && document.querySelector(skip.getAttribute("href"));
    if (target) { event.preventDefault(); target.focus(); }
  });

  // a correction swaps its reply or History row: focus returns to the chip or menu used, not <body>
  let refocus = null;
  document.addEventListener("click", function (event) {
    const chip = event.target.closest(".correct .chip");
    if (chip) refocus = "#" + chip.closest(".reply").id + " .chip[value=\"" + CSS.escape(chip.value) + "\"]";
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches(".history-table select[id]")) refocus = "#" + CSS.escape(event.target.id);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    localTimes(event.detail.elt || document);
    if (!refocus) return;
    const again = document.querySelector(refocus);
    if (again) { again.focus(); refocus = null; }
  });

  // times come labelled UTC; shown in the reader's own zone
  function localTimes(root) {
    const format = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
    root.querySelectorAll("time[data-local]").forEach(function (t) {
      const moment = new Date(t.dateTime);
      if (isNaN(moment)) return;
      t.title = t.textContent;
      t.textContent = moment.toLocaleString([], format);
      t.removeAttribute("data-local");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); phonePanels(document); });

  // on a phone, History's filters and charts start folded so the first rows are in view; a panel
  // the reader opened stays open when the results are swapped
  const opened = {};
  function phonePanels(root) {
    if (!window.matchMedia("(max-width: 700px)").matches) return;
    root.querySelectorAll("details[data-phone-collapsed]:not([data-seen])").forEach(function (panel) {
      panel.dataset.seen = "";
      const name = panel.querySelector("summary").textContent;
      panel.open = Boolean(opened[name]);
      panel.addEventListener("toggle", function () { opened[name] = panel.open; });
    });
  }
  document.addEventListener("htmx:afterSettle", function () { phonePanels(document); });

  // message actions: copy an answer; a photo opens large in the page (a plain link without JS)
  document.addEventListener("click", function (event) {
    const copy = event.target.closest("button[data-copy]");
    if (copy) {
      const answer = document.querySelector(copy.dataset.copy);
      const done = function () { copy.textContent = "Copied"; setTimeout(function () { copy.textContent = "Copy answer"; }, 1500); };
      if (answer && navigator.clipboard) navigator.clipboard.writeText(answer.textContent.trim().replace(/\s+/g, " ")).then(done, function () {});
      return;
    }
    const link = event.target.closest(".bubble.image a[href^='/media/']");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    const box = document.createElement("dialog");
    box.className = "lightbox";
    const img = document.createElement("img");
    img.src = link.getAttribute("href");
    img.alt = (link.querySelector("img") || {}).alt || "Photo";
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "Close";
    box.append(img, close);
    box.addEventListener("click", function () { box.close(); });
    box.addEventListener("close", function () { box.remove(); link.focus(); });
    document.body.appendChild(box);
    box.showModal();
  });

  // on a phone the conversation list is a drawer behind the header's button (a disclosure: the
  // button says whether it is open; Escape, a tap beside it or focus moving on closes it)
  function drawerToggle() { return document.querySelector(".drawer-toggle"); }
  function drawerOpen() { const t = drawerToggle(); return Boolean(t) && t.getAttribute("aria-expanded") === "true"; }
  function setDrawer(open, moveFocus) {
    const toggle = drawerToggle();
    const layout = document.querySelector(".chat-layout");
    if (!toggle || !layout) return;
    toggle.setAttribute("aria-expanded", String(open));
    layout.classList.toggle("drawer-open", open);
    if (!moveFocus) return;
    if (open) {  // onto the open chat's entry (or New chat), not the search: no keyboard pops up
      const first = layout.querySelector(".sidebar a[aria-current=page]") || layout.querySelector(".sidebar .new-chat");
      if (first) first.focus();
    } else {
      toggle.focus();
    }
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest(".drawer-toggle")) { setDrawer(!drawerOpen(), true); return; }
    if (event.target.closest(".drawer-close")) { setDrawer(false, true); return; }
    if (drawerOpen() && !event.target.closest(".sidebar")) setDrawer(false, false);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !drawerOpen() || event.target.closest("dialog")) return;
    event.preventDefault();
    setDrawer(false, true);
  });
  document.addEventListener("focusin", function (event) {
    if (drawerOpen() && !event.target.closest(".sidebar, .drawer-toggle")) setDrawer(false, false);
  });

  // keyboard shortcuts (listed in the "?" dialog), only while not typing in a field
  const shortcuts = {
    "n": function () { window.location.assign("/"); },
    "h": function () { window.location.assign("/history"); },
    "c": function () { const t = document.getElementById("text"); if (t) t.focus(); },
    "/": function () {
      const t = drawerToggle();
      if (t && t.offsetParent !== null && !drawerOpen()) setDrawer(true, false);  // a phone: open the drawer first
      const s = document.getElementById("search"); if (s) s.focus();
    },
    "?": function () { const d = document.getElementById("shortcuts"); if (d && !d.open) d.showModal(); },
  };
  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    // an open dialog only: Chromium leaves focus on a closed dialog's button until the next frame,
    // and a quick "Esc, n" went nowhere
    if (target.closest("input, textarea, select, [contenteditable], dialog[open]")) return;
    const action = shortcuts[event.key];
    if (action) { event.preventDefault(); action(); }
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcuts]")) shortcuts["?"]();
  });

  document.addEventListener("closetchat:outbox", scrollToEnd);
  document.addEventListener("closetchat:answered", function () { if (atEnd) scrollToEnd(); });
  document.addEventListener("closetchat:tray", function () { if (atEnd) scrollToEnd(); });
  document.addEventListener("DOMContentLoaded", scrollToEnd);

  // photos get their height only when they load, after the scroll above: while the reader is at
  // the end of the thread, keep them there (someone reading further up is left where they are)
  // (a scroll event arrives a frame late, when more photos may have grown the thread: only a move
  // away from where scrollToEnd put it is the reader's own)
  let atEnd = true;
  document.addEventListener("scroll", function (event) {
    const t = thread();
    if (event.target !== t) return;
    atEnd = t.scrollTop >= autoScrollTop - 1 || t.scrollHeight - t.scrollTop - t.clientHeight < 80;
  }, true);
  document.addEventListener("load", function (event) {
    const t = thread();
    if (atEnd && t && event.target.tagName === "IMG" && t.contains(event.target)) scrollToEnd();
  }, true);
})();

// ClosetChat's small bit of JavaScript: send photos as soon as they are chosen, dropped or
// pasted, try the examples, keep the thread scrolled. Everything else is HTMX; without
// JavaScript the composer is a plain form and still works.
(function () {
  "use strict";

  function composer() { return document.getElementById("composer"); }
  function thread() { return document.getElementById("thread"); }

  function sendFiles(fileList) {
    const form = composer();
    if (!form || !fileList || fileList.length === 0) return;
    const input = form.querySelector("input[type=file][multiple]");
    const transfer = new DataTransfer();
    for (const file of fileList) transfer.items.add(file);
    input.files = transfer.files;
    form.requestSubmit();
  }

  let autoScrollTop = -1; // where scrollToEnd last put the thread
  function scrollToEnd() {
    const t = thread();
    if (!t) return;
    t.scrollTop = t.scrollHeight;
    autoScrollTop = t.scrollTop;
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("input[data-autosend]") && event.target.files.length) {
      event.target.form.requestSubmit();
    }
  });

  document.addEventListener("paste", function (event) {
    const files = Array.from(event.clipboardData ? event.clipboardData.files : []).filter(f => f.type.startsWith("image/"));
    if (files.length) { event.preventDefault(); sendFiles(files); }
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
    sendFiles(event.dataTransfer.files);
  });

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("button[data-example]");
    if (!button) return;
    const response = await fetch(button.dataset.example);
    const blob = await response.blob();
    const name = button.dataset.example.split("/").pop();
    sendFiles([new File([blob], name, { type: blob.type || "image/png" })]);
  });

  // while the answer is on its way, show the photos being sent (local previews, never uploaded twice)
  document.addEventListener("htmx:beforeRequest", function (event) {
    const form = event.detail.elt;
    if (!form || form.id !== "composer") return;
    const t = thread();
    for (const input of form.querySelectorAll("input[type=file]")) {
      for (const file of input.files) {
        if (!file.type.startsWith("image/")) continue;
        const li = document.createElement("li");
        li.className = "bubble user image pending";
        const img = document.createElement("img");
        img.alt = "Sending " + file.name;
        img.src = URL.createObjectURL(file);
        img.addEventListener("load", function () { URL.revokeObjectURL(img.src); });
        li.appendChild(img);
        t.appendChild(li);
      }
    }
    scrollToEnd();
  });

  // after a message is answered: clear the composer, drop the empty state, scroll down
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (form && form.id === "composer") {
      document.querySelectorAll(".bubble.pending").forEach(function (li) { li.remove(); });
      form.reset();
      const empty = document.getElementById("empty-state");
      if (empty && event.detail.successful) empty.remove();
      const text = document.getElementById("text");
      if (text) text.focus();
    }
  });
  document.addEventListener("htmx:afterSettle", scrollToEnd);
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

// The composer: photos chosen, pasted or dropped wait in a tray (thumbnails, remove ×, an optional
// caption each) until Enter or Send sends them with the text, through the outbox (outbox.js). The composer is cleared when
// a message is queued, never when a reply arrives, so nothing typed meanwhile is lost. Without
// JavaScript the composer is a plain form and still works.
(function () {
  "use strict";

  const tray = [];                // {file, url, caption} waiting in the composer
  const CAPTION_MAX = 200;        // the server keeps this many characters of a caption

  const { $, el, isImage } = window.closetchatOutbox.dom;  // outbox.js runs first (both deferred)

  // ---- the tray ----
  function addToTray(files) {
    for (const file of files) tray.push({ file, url: isImage(file) ? URL.createObjectURL(file) : "", caption: "" });
    renderTray();
  }

  function renderTray() {
    const box = $("tray");
    if (!box) return;
    box.replaceChildren();
    tray.forEach(function (entry, i) {
      const item = el("li", "tray-item");
      if (entry.url) {
        const img = el("img");
        img.src = entry.url;
        img.alt = entry.file.name;
        item.appendChild(img);
      } else {
        item.appendChild(el("span", "tray-name", entry.file.name));
      }
      const remove = el("button", "tray-remove", "×");
      remove.type = "button";
      remove.dataset.trayIndex = String(i);
      remove.setAttribute("aria-label", "Remove " + entry.file.name);
      item.appendChild(remove);
      const caption = el("input", "tray-caption");
      caption.type = "text";
      caption.maxLength = CAPTION_MAX;
      caption.autocomplete = "off";
      caption.placeholder = "Add a caption";
      caption.value = entry.caption;
      caption.dataset.trayCaption = String(i);
      caption.setAttribute("aria-label", "Caption for " + entry.file.name);
      item.appendChild(caption);
      box.appendChild(item);
    });
    box.hidden = tray.length === 0;
    document.dispatchEvent(new CustomEvent("closetchat:tray"));  // the thread above got shorter or taller
  }

  function takeTray() {
    const taken = tray.splice(0);
    taken.forEach(function (entry) { if (entry.url) URL.revokeObjectURL(entry.url); });
    renderTray();
    return { files: taken.map((entry) => entry.file), captions: taken.map((entry) => entry.caption.trim()) };
  }

  // ---- events ----
  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.id !== "composer") return;
    event.preventDefault();
    const text = $("text");
    const words = text ? text.value.trim() : "";
    if (!words && !tray.length) { if (text) text.focus(); return; }
    const taken = takeTray();
    window.closetchatOutbox.enqueue(words, taken.files, taken.captions);
    if (text) text.value = "";
  });

  // a caption is kept in its tray entry as it is typed (the tray is redrawn on add and remove)
  document.addEventListener("input", function (event) {
    const caption = event.target.closest("input[data-tray-caption]");
    const entry = caption && tray[Number(caption.dataset.trayCaption)];
    if (entry) entry.caption = caption.value;
  });

  document.addEventListener("change", function (event) {
    const input = event.target;
    if (!input.matches("#composer input[type=file]") || !input.files.length) return;
    addToTray(Array.from(input.files));
    input.value = "";  // the tray holds them now: the form never sends them twice
  });

  // Enter (as well as Space) on the Photos/Camera buttons opens the picker
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches("#composer input[type=file]")) {
      event.preventDefault();
      event.target.click();
    }
  });

  document.addEventListener("click", function (event) {
    const remove = event.target.closest("button[data-tray-index]");
    if (!remove) return;
    const [entry] = tray.splice(Number(remove.dataset.trayIndex), 1);
    if (entry && entry.url) URL.revokeObjectURL(entry.url);
    renderTray();
    if ($("text")) $("text").focus();
  });

  document.addEventListener("closetchat:page", renderTray);

  window.closetchat = { addToTray, send: (text, files) => window.closetchatOutbox.enqueue(text, files) };
})();

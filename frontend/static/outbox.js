// The outbox: each message sent is a bubble in the thread, queued behind the one in flight, with
// its own upload progress bar, Cancel and Retry. Big photos are shrunk here before they go (the
// model needs a few hundred pixels; the server's caps stay as they are). composer.js fills it.
(function () {
  "use strict";

  const MAX_SIDE = 1600;          // longest side sent, in pixels
  const SHRINK_OVER = 1500000;    // bytes: a smaller photo within MAX_SIDE is sent as it is
  const queue = [];               // outbox items waiting to be sent, in order
  const items = new Map();        // every outbox item still shown, by id
  let current = null;             // the item in flight
  let nextId = 1;

  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  };
  const isImage = (file) => file && (file.type.startsWith("image/") || /\.(heic|heif|avif)$/i.test(file.name));

  // ---- shrinking ----
  async function shrink(file) {
    if (!file.type.startsWith("image/") || file.type === "image/gif") return file;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch (e) {
      return file;  // a format this browser cannot decode (HEIC): the server can
    }
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && file.size <= SHRINK_OVER) { bitmap.close(); return file; }
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";  // transparent parts as on a white page, not black
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.88));
    if (!blob || (scale === 1 && blob.size >= file.size)) return file;
    return new File([blob], file.name, { type: "image/jpeg" });
  }

  // ---- the outbox ----
  // captions: one per file ("" for none), sent beside them
  function enqueue(text, files, captions) {
    const form = $("composer");
    if (!form) return;
    captions = captions || [];
    // the server's cap on files per message, and on form fields (30 captions beside the text and token)
    const perSend = Math.min(Number(form.dataset.maxFiles) || 16, 30);
    const chunks = [];
    for (let i = 0; i < files.length; i += perSend) {
      chunks.push({ files: files.slice(i, i + perSend), captions: files.slice(i, i + perSend).map((f, j) => captions[i + j] || "") });
    }
    if (!chunks.length) chunks.push({ files: [], captions: [] });
    chunks.forEach(function (chunk, i) {
      const item = { id: nextId++, text: i === 0 ? text : "", files: chunk.files, captions: chunk.captions, xhr: null };
      outboxBubble(item);
      items.set(item.id, item);
      queue.push(item);
    });
    const empty = $("empty-state");
    if (empty) empty.remove();
    document.dispatchEvent(new CustomEvent("closetchat:outbox"));
    pump();
  }

  function outboxBubble(item) {
    const li = el("li", "bubble user outbox");
    item.li = li;
    li.dataset.outbox = String(item.id);
    if (item.files.length) {
      const photos = el("div", "outbox-photos");
      item.files.forEach(function (file, i) {
        const figure = el("figure");
        if (isImage(file)) {
          const img = el("img");
          img.alt = "Sending " + file.name;
          img.src = URL.createObjectURL(file);
          img.addEventListener("load", function () { URL.revokeObjectURL(img.src); }, { once: true });
          figure.appendChild(img);
        } else {
          figure.appendChild(el("span", "filename", file.name));
        }
        if (item.captions[i]) figure.appendChild(el("figcaption", "caption", item.captions[i]));
        photos.appendChild(figure);
      });
      li.appendChild(photos);
    }
    if (item.text) li.appendChild(el("p", "", item.text));
    const status = el("div", "outbox-status");
    status.setAttribute("role", "status");
    li.appendChild(status);
    item.status = status;
    setStatus(item, "Waiting…", ["cancel"]);
    const t = $("thread");
    if (t) t.appendChild(li);
  }

  function setStatus(item, text, actions, progress) {
    // the same buttons as shown: change the words and the bar in place. Rebuilding replaced Cancel
    // under a person's press (progress comes several times a second, a press lasts about 100 ms),
    // and a press and release on two different buttons is no click: Cancel was lost.
    const words = item.status.querySelector(".outbox-text");
    const shownBar = item.status.querySelector("progress");
    const shown = Array.from(item.status.querySelectorAll("button[data-outbox-action]"), function (b) { return b.dataset.outboxAction; });
    if (words && (shownBar !== null) === (progress !== undefined) && shown.join() === (actions || []).join()) {
      words.textContent = text;
      if (shownBar) shownBar.value = progress;
      return;
    }
    const parts = [];
    if (progress !== undefined) {
      const bar = el("progress");
      bar.max = 1;
      bar.value = progress;
      bar.setAttribute("aria-label", "Upload progress");
      parts.push(bar);
    }
    parts.push(el("span", "outbox-text", text));
    for (const action of actions || []) {
      const button = el("button", "ghost small", action === "cancel" ? "Cancel" : action === "retry" ? "Retry" : "Remove");
      button.type = "button";
      button.dataset.outboxAction = action;
      button.dataset.outboxId = String(item.id);
      parts.push(button);
    }
    item.status.replaceChildren(...parts);
    item.li.classList.toggle("failed", (actions || []).includes("retry"));
  }

  async function pump() {
    if (current || !queue.length) return;
    current = queue.shift();
    const item = current;
    try {
      if (!item.shrunk) {
        setStatus(item, "Preparing…", ["cancel"]);
        item.files = await Promise.all(item.files.map(shrink));  // in order: captions stay beside theirs
        item.shrunk = true;
      }
      if (current !== item) return;  // cancelled while preparing
      if (refuseTooBig(item)) await upload(item);
    } finally {
      if (current === item) current = null;
      pump();
    }
  }

  // a photo still over the server's cap once shrunk (one the browser cannot decode) is refused
  // here, as the server would, without sending it first; true when something is left to send
  function refuseTooBig(item) {
    const form = $("composer");
    const max = Number(form.dataset.maxBytes) || Infinity;
    for (const file of item.files.filter((f) => f.size > max)) {
      const li = el("li", "bubble assistant error");
      const p = el("p");
      p.setAttribute("role", "alert");
      p.append(el("strong", "", "Sorry:"), " “" + file.name + "” is larger than " + form.dataset.maxMb + " MB");
      li.appendChild(p);
      item.li.after(li);
    }
    item.captions = item.captions.filter((c, i) => item.files[i].size <= max);
    item.files = item.files.filter((f) => f.size <= max);
    if (item.files.length || item.text) return true;
    items.delete(item.id);
    item.li.remove();
    return false;
  }

  function upload(item) {
    const form = $("composer");
    const data = new FormData();
    data.append("csrf_token", form.querySelector("input[name=csrf_token]").value);
    data.append("text", item.text);
    for (const file of item.files) data.append("files", file, file.name);
    // one caption per photo, in their order, or none at all (the server pairs them by position)
    if (item.captions.some(Boolean)) for (const caption of item.captions) data.append("captions", caption);
    return new Promise(function (resolve) {
      const xhr = new XMLHttpRequest();
      item.xhr = xhr;
      xhr.open("POST", form.getAttribute("action"));
      xhr.setRequestHeader("HX-Request", "true");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) setStatus(item, "Sending " + Math.round(100 * e.loaded / e.total) + "%", ["cancel"], e.loaded / e.total);
      });
      xhr.upload.addEventListener("load", function () { setStatus(item, "Looking…", []); });
      xhr.addEventListener("load", function () { answered(item, xhr).then(resolve, resolve); });
      xhr.addEventListener("error", function () { failed(item, "no connection"); resolve(); });
      xhr.addEventListener("abort", function () { failed(item, "cancelled"); resolve(); });
      setStatus(item, "Sending…", ["cancel"], 0);
      xhr.send(data);
    });
  }

  function failed(item, why) {
    item.xhr = null;
    setStatus(item, "Not sent: " + why + ".", ["retry", "remove"]);
  }

  async function answered(item, xhr) {
    item.xhr = null;
    if (xhr.status >= 500 || xhr.status === 0) { failed(item, "the server had a problem"); return; }
    const location = xhr.getResponseHeader("HX-Location");
    items.delete(item.id);
    if (location) { item.li.remove(); await openConversation(location); return; }
    const tpl = document.createElement("template");
    tpl.innerHTML = xhr.responseText;
    tpl.content.querySelectorAll("[hx-swap-oob]").forEach(function (node) {
      const old = node.id && document.getElementById(node.id);
      node.removeAttribute("hx-swap-oob");
      if (old) old.replaceWith(node); else node.remove();
    });
    const nodes = Array.from(tpl.content.children);
    item.li.before(...nodes);
    item.li.remove();
    nodes.forEach(function (node) { if (window.htmx) window.htmx.process(node); });
    document.dispatchEvent(new CustomEvent("closetchat:answered"));
  }

  // the first message of a new chat made it: show the conversation's page in place, keeping what
  // is typed, in the tray and still queued
  async function openConversation(url) {
    const response = await fetch(url, { headers: { Accept: "text/html" } });
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.querySelector("main");
    if (!response.ok || !fresh) { window.location.assign(url); return; }
    const typed = $("text") ? $("text").value : "";
    const waiting = queue.map((item) => item.li);
    document.querySelector("main").replaceWith(document.adoptNode(fresh));
    document.title = doc.title;
    history.pushState({ closetchat: true }, "", url);
    if (window.htmx) window.htmx.process(document.querySelector("main"));
    if ($("text")) $("text").value = typed;
    document.dispatchEvent(new CustomEvent("closetchat:page"));  // composer.js shows the tray again
    if (waiting.length && $("thread")) $("thread").append(...waiting);
    document.dispatchEvent(new CustomEvent("closetchat:answered"));
  }

  function onAction(button) {
    const item = items.get(Number(button.dataset.outboxId));
    if (!item) return;
    const action = button.dataset.outboxAction;
    if (action === "cancel") {
      if (item.xhr) { item.xhr.abort(); return; }  // failed() marks it
      const waiting = queue.indexOf(item);
      if (waiting >= 0) queue.splice(waiting, 1);
      if (current === item) current = null;  // still preparing: pump() drops it
      failed(item, "cancelled");
    } else if (action === "retry") {
      const t = $("thread");
      if (t) t.appendChild(item.li);  // its answer comes after those already in
      setStatus(item, "Waiting…", ["cancel"]);
      queue.push(item);
      pump();
    } else if (action === "remove") {
      items.delete(item.id);
      item.li.remove();
    }
  }

  document.addEventListener("click", function (event) {
    const action = event.target.closest("button[data-outbox-action]");
    if (action) onAction(action);
  });

  window.addEventListener("popstate", function (event) {
    // entries this script pushed (a new chat's address) are whole pages: load them
    if ($("composer") && !(event.state && event.state.htmx)) window.location.reload();
  });

  window.closetchatOutbox = { enqueue, dom: { $, el, isImage } };
})();

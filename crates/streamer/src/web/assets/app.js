// Streamer dashboard behaviour. Served from the binary; no inline script anywhere (the
// Content-Security-Policy forbids it). Everything inserted into the page is HTML the server
// rendered and escaped.
"use strict";

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  try { document.execCommand("copy"); } finally { area.remove(); }
  return Promise.resolve();
}

document.addEventListener("click", (ev) => {
  const btn = ev.target.closest("button[data-copy]");
  if (!btn) return;
  copyText(btn.dataset.copy).then(() => {
    btn.textContent = "Copied";
    btn.classList.add("copied");
    setTimeout(() => { btn.textContent = "Copy"; btn.classList.remove("copied"); }, 1500);
  });
});

document.addEventListener("submit", (ev) => {
  const form = ev.target;
  const submitter = ev.submitter;
  const message = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
  if (message && !window.confirm(message)) ev.preventDefault();
});

function startLive() {
  const list = document.getElementById("alerts");
  if (!list || !list.dataset.live || !window.EventSource) return;
  const status = document.getElementById("live");
  const counter = document.getElementById("new-count");
  let fresh = 0;
  const sep = list.dataset.live.includes("?") && !list.dataset.live.endsWith("?") ? "&" : "";
  const url = list.dataset.live + sep + "after=" + encodeURIComponent(list.dataset.after || "0");
  const source = new EventSource(url);
  source.addEventListener("open", () => {
    status.textContent = "live";
    status.className = "live on";
  });
  source.addEventListener("error", () => {
    status.textContent = "reconnecting…";
    status.className = "live off";
  });
  source.addEventListener("alert", (ev) => {
    const tpl = document.createElement("template");
    tpl.innerHTML = ev.data;
    const card = tpl.content.firstElementChild;
    if (!card) return;
    card.classList.add("new");
    const empty = document.getElementById("no-alerts");
    if (empty) empty.remove();
    list.insertBefore(card, list.firstChild);
    fresh += 1;
    counter.textContent = fresh + " new";
  });
}

document.addEventListener("DOMContentLoaded", startLive);

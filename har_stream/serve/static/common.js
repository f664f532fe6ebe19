"use strict";
// Helpers shared by the live and events pages.

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function formatTime(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleString();
}

function actionText(event) {
  // The action an alert names, with its evidence; "unknown" (a "*" rule on a person shown by id alone) has none.
  if (event.action === "unknown") return event.action;
  return `${event.action} ${(event.confidence * 100).toFixed(0)}%`;
}

function formatDuration(event) {
  if (event.duration_s !== null && event.duration_s !== undefined) return `${event.duration_s.toFixed(1)} s`;
  return event.active ? "active" : (event.end_reason || "");
}

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function snapshotLink(event, cls) {
  if (!event.snapshot_url) return el("span", { class: "muted", text: "no snapshot" });
  const img = el("img", { src: event.snapshot_url, alt: `snapshot of ${event.rule} on ${event.camera}`, loading: "lazy", class: cls });
  return el("a", { href: event.snapshot_url, target: "_blank" }, img);
}

function clipLink(event) {
  if (event.clip_url) return el("a", { class: "clip", href: event.clip_url, target: "_blank", text: "▶ clip" });
  return el("span", { class: "muted clip-pending", text: event.active || !event.end_reason ? "clip pending" : "no clip" });
}

"use strict";
// The live page: one card per camera (MJPEG view and health) and an alert list fed by server-sent events.

const MAX_ALERTS = 50;
const cards = new Map();

function cameraCard(camera) {
  const card = document.getElementById("camera-template").content.firstElementChild.cloneNode(true);
  card.dataset.camera = camera.name;
  card.querySelector(".name").textContent = camera.name;
  const img = card.querySelector(".live-view");
  img.src = camera.live_url;
  img.alt = `live view of ${camera.name}`;
  document.getElementById("cameras").append(card);
  cards.set(camera.name, card);
  updateHealth(camera.name, camera);
  return card;
}

function updateHealth(name, health) {
  const card = cards.get(name);
  if (!card) return;
  const status = card.querySelector(".status");
  status.textContent = health.status;
  status.dataset.state = health.status;
  card.querySelector(".fps").textContent = health.fps_processed.toFixed(1);
  card.querySelector(".fps-in").textContent = health.fps_in.toFixed(1);
  card.querySelector(".frames").textContent = health.frames_processed;
  card.querySelector(".dropped").textContent = health.frames_dropped;
  card.querySelector(".active").textContent = health.active_alerts;
  card.querySelector(".error").textContent = health.error || "";
  updateCounts(card, health);
}

// Line crossings in and out since the camera started, and people in each zone now.
function updateCounts(card, health) {
  const lines = health.line_counts || [];
  const zones = health.zone_occupancy || [];
  const rows = [
    ...lines.map((l) => el("tr", { class: "line", "data-line": l.line }, el("th", { scope: "row", text: l.line }),
      el("td", { class: "in", text: l.in_count }), el("td", { class: "out", text: l.out_count }), el("td"))),
    ...zones.map((z) => el("tr", { class: "zone", "data-zone": z.zone }, el("th", { scope: "row", text: z.zone }),
      el("td"), el("td"), el("td", { class: "people", text: z.people }))),
  ];
  const table = card.querySelector(".counts");
  table.hidden = rows.length === 0;
  table.querySelector("tbody").replaceChildren(...rows);
}

function alertItem(event) {
  const when = el("time", { datetime: event.time, text: formatTime(event.started_at) });
  const title = el("strong", { text: event.rule });
  const facts = el("span", { class: "facts",
    text: `${event.camera} · ${actionText(event)} · ${event.zone || "anywhere"} · track ${event.track_id}` });
  const state = el("span", { class: "state", text: formatDuration(event) });
  const heading = el("div", { class: "title" }, title,
    el("span", { class: `pill severity ${event.severity}`, text: event.severity }));
  const body = el("div", { class: "body" }, heading, facts, el("div", { class: "meta" }, when, state, clipLink(event)));
  return el("li", { class: `alert ${event.active ? "active" : "ended"}`, "data-alert-id": event.alert_id },
    snapshotLink(event, "thumb"), body);
}

function showAlert(event) {
  const list = document.getElementById("alert-list");
  const item = alertItem(event);
  const existing = list.querySelector(`li[data-alert-id="${CSS.escape(event.alert_id)}"]`);
  if (existing) existing.replaceWith(item);
  else {
    const newer = [...list.children].find((li) => Number(li.dataset.started) < event.started_at);
    item.dataset.started = event.started_at;
    list.insertBefore(item, newer || null);
    while (list.children.length > MAX_ALERTS) list.lastElementChild.remove();
  }
  item.dataset.started = event.started_at;
  document.getElementById("alert-count").textContent = list.children.length;
  document.getElementById("no-alerts").hidden = list.children.length > 0;
}

function connect() {
  const badge = document.getElementById("connection");
  const source = new EventSource("/api/live");
  source.onopen = () => { badge.textContent = "live"; badge.dataset.state = "connected"; };
  source.onerror = () => { badge.textContent = "reconnecting…"; badge.dataset.state = "reconnecting"; };
  source.addEventListener("alert", (e) => showAlert(JSON.parse(e.data).event));
  source.addEventListener("health", (e) => { const m = JSON.parse(e.data); updateHealth(m.camera, m.health); });
}

async function main() {
  const cameras = await getJSON("/api/cameras");
  cameras.forEach(cameraCard);
  const page = await getJSON(`/api/events?limit=${MAX_ALERTS}`);
  page.items.slice().reverse().forEach(showAlert);
  connect();
}

main().catch((error) => {
  const badge = document.getElementById("connection");
  badge.textContent = `error: ${error.message}`;
  badge.dataset.state = "error";
});

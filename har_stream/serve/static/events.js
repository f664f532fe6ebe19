"use strict";
// The events page: filters (kept in the address bar) over GET /api/events, one page at a time.

const PAGE = 25;
const form = document.getElementById("filters");
let offset = 0;

function fillSelect(name, values) {
  const select = form.elements[name];
  for (const value of values) select.append(el("option", { value, text: value }));
}

function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function filterParams() {
  const params = new URLSearchParams();
  for (const name of ["camera", "action", "rule", "severity", "review"]) {
    if (form.elements[name].value) params.set(name, form.elements[name].value);
  }
  params.set("unreviewed_first", form.elements.unreviewed_first.checked ? "true" : "false");
  for (const name of ["since", "until"]) {
    const value = form.elements[name].value;
    if (value) params.set(name, new Date(value).toISOString());
  }
  return params;
}

function row(event) {
  const cells = [
    snapshotLink(event, "thumb"),
    el("time", { datetime: event.time, text: formatTime(event.started_at) }),
    event.camera, event.rule, actionText(event),
    el("span", { class: `pill severity ${event.severity}`, text: event.severity }),
    event.zone || "", String(event.track_id), formatDuration(event), clipLink(event), reviewCell(event),
  ];
  return el("tr", { "data-alert-id": event.alert_id }, ...cells.map((c) => el("td", {}, c)));
}

async function search() {
  const params = filterParams();
  history.replaceState(null, "", `/events${params.toString() ? "?" + params : ""}`);
  params.set("limit", PAGE);
  params.set("offset", offset);
  const page = await getJSON(`/api/events?${params}`);
  document.querySelector("#events-table tbody").replaceChildren(...page.items.map(row));
  const last = Math.min(page.total, offset + page.items.length);
  document.getElementById("summary").textContent =
    page.total ? `${offset + 1}–${last} of ${page.total} alerts` : "No alerts match these filters.";
  document.getElementById("prev").disabled = offset === 0;
  document.getElementById("next").disabled = last >= page.total;
}

async function main() {
  await loadSession();
  const filters = await getJSON("/api/filters");
  fillSelect("camera", filters.cameras);
  fillSelect("action", filters.actions);
  fillSelect("rule", filters.rules);
  fillSelect("severity", filters.severities);
  const initial = new URLSearchParams(location.search);
  for (const name of ["camera", "action", "rule", "severity", "review"]) {
    if (initial.has(name)) form.elements[name].value = initial.get(name);
  }
  form.elements.unreviewed_first.checked = initial.get("unreviewed_first") !== "false";
  for (const name of ["since", "until"]) {
    if (initial.has(name)) form.elements[name].value = toLocalInput(initial.get(name));
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); offset = 0; search(); });
  form.addEventListener("reset", () => setTimeout(() => { offset = 0; search(); }));
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); search(); });
  document.getElementById("next").addEventListener("click", () => { offset += PAGE; search(); });
  await search();
}

main().catch((error) => { document.getElementById("summary").textContent = `error: ${error.message}`; });

"use strict";
// Reviews on the events page: who this token is (GET /api/session) and, for operators, verdict buttons.
// Writes carry the CSRF token from /api/session: the cookie alone is refused for anything that changes state.

let session = null;
const VERDICT_TEXT = { confirmed: "confirmed", false_alarm: "false alarm" };

async function loadSession() {
  session = await getJSON("/api/session");
  document.getElementById("who").textContent = `${session.name} · ${session.role}`;
}

function reviewCell(event) {
  const cell = el("div", { class: "review" });
  if (event.review) {
    const when = event.reviewed_at ? ` at ${formatTime(event.reviewed_at)}` : "";
    cell.append(el("span", {
      class: `pill verdict ${event.review}`, text: VERDICT_TEXT[event.review] || event.review,
      title: `by ${event.reviewed_by}${when}`,
    }), el("span", { class: "muted reviewer", text: `by ${event.reviewed_by}` }));
    if (event.review_note) cell.append(el("span", { class: "note", text: event.review_note }));
  } else {
    cell.append(el("span", { class: "muted unreviewed", text: "unreviewed" }));
  }
  if (session && session.can_review) {
    const note = el("input", { type: "text", name: "note", maxlength: "500", placeholder: "note (optional)", "aria-label": "review note" });
    note.value = event.review_note || "";
    const confirm = el("button", { type: "button", class: "confirm", text: "Confirm" });
    const falseAlarm = el("button", { type: "button", class: "false-alarm", text: "False alarm" });
    confirm.addEventListener("click", () => submitReview(event.alert_id, "confirmed", note.value, cell));
    falseAlarm.addEventListener("click", () => submitReview(event.alert_id, "false_alarm", note.value, cell));
    cell.append(el("div", { class: "review-actions" }, note, confirm, falseAlarm));
  }
  return cell;
}

async function submitReview(alertId, verdict, note, cell) {
  const response = await fetch(`/api/events/${encodeURIComponent(alertId)}/review`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": session.csrf_token },
    body: JSON.stringify({ verdict, note: note.trim() || null }),
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    cell.append(el("span", { class: "review-error", text: `review failed: ${body.detail || response.status}` }));
    return;
  }
  const updated = await response.json();
  cell.closest("tr").replaceWith(row(updated));
}

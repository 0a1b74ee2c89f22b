// Console › Receivers: every receiver GET /v1/outbound/deliveries lists (SSF streams, webhooks,
// and whatever other kinds it returns), with status, lag, held messages, last success and
// error, and Pause / Resume / Redeliver (POST /v1/outbound/receivers/{id}/...).
import {
  announce,
  api,
  confirmAction,
  currentAuth,
  explain,
  h,
  hideState,
  setupHeader,
  showError,
  showState,
  SCOPES,
  signinUrl,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const READ = { what: "see the receivers", need: SCOPES.AUDIT };
const CHANGE = { what: "change receivers", need: SCOPES.TERMINATE };
const KINDS = { ssf: "Shared signals stream", webhook: "Webhook" };
let canChange = false;

const when = (seconds) => (seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "—");

async function load({ quiet = false } = {}) {
  if (!quiet) showState($("state"), "loading", "Loading receivers…");
  try {
    const data = await api("GET", "/v1/outbound/deliveries");
    const list = data.receivers || [];
    if (list.length === 0) showState($("state"), "empty", "This tenant has no receivers.");
    else hideState($("state"));
    $("rows").replaceChildren(...list.map(row));
  } catch (error) {
    $("rows").replaceChildren();
    showError($("state"), error, { ...READ, retry: () => load() });
  }
}

function row(r) {
  const name = r.owner ? `${r.id} (${r.owner})` : r.id;
  const actions = [];
  if (canChange && r.status === "paused") actions.push(button("Resume", r, () => change(r, "resume")));
  if (canChange && r.status === "enabled") actions.push(button("Pause", r, () => change(r, "pause")));
  if (canChange) actions.push(button("Redeliver", r, () => redeliver(r)));
  const status = r.status + (r.status_reason ? ` (${r.status_reason})` : "");
  return h(
    "tr",
    { "data-receiver": r.id },
    h("th", { scope: "row" }, name),
    h("td", {}, KINDS[r.kind] || r.kind || "—"),
    h("td", {}, status),
    h("td", {}, String(r.lag ?? "—")),
    h("td", {}, String(r.pending ?? "—")),
    h("td", {}, String(r.delivered ?? "—")),
    h("td", {}, when(r.last_success_at)),
    h("td", {}, r.last_error ? `${r.last_error} (${when(r.last_error_at)})` : "—"),
    h("td", {}, actions),
  );
}

function button(label, r, onclick) {
  return h("button", { type: "button", class: "secondary", "aria-label": `${label} ${r.id}`, onclick }, label);
}

async function change(r, action) {
  try {
    await api("POST", `/v1/outbound/receivers/${encodeURIComponent(r.id)}/${action}`);
    announce(`${r.id}: ${action === "pause" ? "paused; its events are held" : "resumed"}.`);
  } catch (error) {
    announce(explain(error, CHANGE).text, true);
  }
  load({ quiet: true });
}

async function redeliver(r) {
  const ok = await confirmAction({
    title: `Redeliver to ${r.id}?`,
    body: "Every message still kept for this receiver is sent again, with the same ids (receivers drop what they already have).",
    confirm: "Redeliver",
  });
  if (!ok) return;
  try {
    const data = await api("POST", `/v1/outbound/receivers/${encodeURIComponent(r.id)}/requeue`, { from_position: 0 });
    announce(`${r.id}: ${data.requeued} message${data.requeued === 1 ? "" : "s"} will be sent again.`);
  } catch (error) {
    announce(explain(error, CHANGE).text, true);
  }
  load({ quiet: true });
}

if (!currentAuth()) location.replace(signinUrl());
else {
  const auth = setupHeader();
  canChange = auth.scopes.includes(SCOPES.TERMINATE);
  $("refresh").addEventListener("click", () => load());
  load();
  setInterval(() => load({ quiet: true }), 5000); // lag and errors change without log events
}

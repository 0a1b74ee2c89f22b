// Console › Overview: every open session of the tenant (filters, sort by sign-in time, pages,
// terminate a selection, CSV export), the counts, the charts (server-drawn SVG beside tables of
// their numbers), kept up to date live from GET /v1/events.
import {
  announce,
  api,
  appsText,
  confirmAction,
  currentAuth,
  debounce,
  deviceLabels,
  explain,
  follow,
  h,
  hideState,
  isExpired,
  reasonText,
  setupHeader,
  showError,
  showState,
  SCOPES,
  signinUrl,
  timeElement,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const READ = { what: "use the console", need: SCOPES.READ };
const TERMINATE = { what: "terminate sessions", need: SCOPES.TERMINATE };

let auth = null;
let canTerminate = false;
let filters = new URLSearchParams();
let order = "newest";
let cursors = [null]; // cursor of each page seen; the last is the current page's
let rows = [];
let window30 = false;

function forbid() {
  $("overview").hidden = true;
  const box = $("forbidden");
  box.hidden = false;
  box.replaceChildren(
    h("h1", { tabindex: "-1", id: "forbidden-title" }, "You cannot use the console"),
    h("p", {}, `You are signed in as ${auth.sub}, who is not allowed to use the console: it needs the sessions:read permission.`),
    h("p", {}, h("a", { href: "/myaccount/sessions" }, "See your own sessions"), " or ", h("a", { href: signinUrl() }, "sign in as someone else"), "."),
  );
  $("forbidden-title").focus();
}

// ------------------------------------------------------------- the list

function query(extra = {}) {
  const q = new URLSearchParams(filters);
  for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined) q.set(k, v);
  return q;
}

async function loadCounts() {
  try {
    const c = await api("GET", "/v1/sessions/summary?" + query());
    const s = (n, one, many) => `${n} ${n === 1 ? one : many}`;
    $("counts").textContent =
      `${s(c.open_sessions, "open session", "open sessions")} of ${s(c.users, "user", "users")}` +
      (filters.toString() ? " match the filters." : " in this tenant.");
  } catch (error) {
    $("counts").textContent = "";
  }
}

async function loadPage({ quiet = false } = {}) {
  const box = $("table-state");
  if (!quiet) showState(box, "loading", "Loading sessions…");
  $("rows").setAttribute("aria-busy", "true");
  try {
    const cursor = cursors[cursors.length - 1];
    const data = await api("GET", "/v1/sessions?" + query({ limit: "25", order, cursor }));
    const labels = await deviceLabels(data.sessions.map((s) => s.user_agent));
    rows = data.sessions.map((s, i) => ({ ...s, device: labels[i] }));
    render(data.next_cursor);
  } catch (error) {
    if (error.kind === "forbidden") return forbid();
    rows = [];
    $("rows").replaceChildren();
    showError(box, error, { ...READ, retry: () => loadPage() });
  } finally {
    $("rows").removeAttribute("aria-busy");
  }
}

function render(nextCursor) {
  const box = $("table-state");
  if (rows.length === 0) showState(box, "empty", filters.toString() ? "No open session matches these filters." : "No session is open.");
  else hideState(box);
  $("rows").replaceChildren(...rows.map(row));
  $("select-all").checked = false;
  $("select-all").disabled = !canTerminate || rows.length === 0;
  $("next").disabled = !nextCursor;
  $("next").dataset.cursor = nextCursor || "";
  $("prev").disabled = cursors.length < 2;
  $("page-no").textContent = `Page ${cursors.length}`;
  updateSelection();
}

function row(s) {
  const user = h("a", { href: `/console/users/${encodeURIComponent(s.user_id)}/sessions` }, s.user_id);
  const box = h("input", {
    type: "checkbox",
    class: "pick",
    "data-id": s.id,
    disabled: !canTerminate,
    "aria-label": `Select the session of ${s.user_id} on ${s.device}${s.ip ? ", " + s.ip : ""}`,
    onchange: updateSelection,
  });
  return h(
    "tr",
    { "data-session-id": s.id },
    h("td", {}, box),
    h("td", { "data-label": "User" }, user),
    h("td", { "data-label": "Device", title: s.user_agent || "" }, s.device),
    h("td", { "data-label": "IP address" }, s.ip || "—"),
    h("td", { "data-label": "Applications" }, appsText(s)),
    h("td", { "data-label": "Signed in" }, timeElement(s.started_at)),
    h("td", { "data-label": "Last activity" }, timeElement(s.last_active_at)),
  );
}

function selected() {
  const ids = new Set([...document.querySelectorAll("input.pick:checked")].map((b) => b.dataset.id));
  return rows.filter((s) => ids.has(s.id));
}

function updateSelection() {
  const n = selected().length;
  const button = $("terminate-selected");
  button.disabled = !canTerminate || n === 0;
  button.textContent = n ? `Terminate selected (${n})` : "Terminate selected";
}

async function terminateSelected() {
  const picked = selected();
  const n = picked.length;
  const ok = await confirmAction({
    title: `Terminate ${n} session${n === 1 ? "" : "s"}?`,
    body: `${picked.map((s) => `${s.user_id} on ${s.device}`).join("; ")}. Each is ended as terminated by an administrator; the users will have to sign in again there.`,
    confirm: `Terminate ${n} session${n === 1 ? "" : "s"}`,
  });
  if (!ok) return;
  $("terminate-selected").disabled = true;
  let done = 0;
  for (const s of picked) {
    try {
      await api("DELETE", `/v1/users/${encodeURIComponent(s.user_id)}/sessions/${encodeURIComponent(s.id)}`);
      done += 1;
    } catch (error) {
      if (error.kind === "notfound") continue;
      announce(explain(error, TERMINATE).text, true);
      break;
    }
  }
  if (done) announce(`${done} session${done === 1 ? "" : "s"} terminated (${reasonText("admin_terminated")}).`);
  refreshAll();
  $("page-title").focus();
}

async function exportCsv() {
  const a = currentAuth();
  if (!a || isExpired(a)) return announce(explain({ kind: "expired" }).text, true);
  try {
    const res = await fetch("/v1/sessions/export?" + query(), {
      headers: { Authorization: "Bearer " + a.token },
      cache: "no-store",
      credentials: "omit",
    });
    if (!res.ok) throw new Error(String(res.status));
    const url = URL.createObjectURL(await res.blob());
    const link = h("a", { href: url, download: "open-sessions.csv", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    announce("The CSV file of the open sessions was downloaded.");
  } catch {
    announce("The export failed. Try again in a moment.", true);
  }
}

function setupList() {
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    filters = new URLSearchParams();
    for (const [k, v] of form.entries()) {
      const value = String(v).trim();
      if (!value) continue;
      filters.set(k, k === "started_after" ? new Date(value + "Z").toISOString() : value);
    }
    cursors = [null];
    refreshAll();
  });
  $("filters").addEventListener("reset", () => {
    filters = new URLSearchParams();
    cursors = [null];
    setTimeout(refreshAll);
  });
  $("sort-started").addEventListener("click", () => {
    order = order === "newest" ? "oldest" : "newest";
    $("th-started").setAttribute("aria-sort", order === "newest" ? "descending" : "ascending");
    $("sort-arrow").textContent = order === "newest" ? "▼" : "▲";
    cursors = [null];
    loadPage();
  });
  $("next").addEventListener("click", () => {
    cursors.push($("next").dataset.cursor);
    loadPage();
  });
  $("prev").addEventListener("click", () => {
    cursors.pop();
    loadPage();
  });
  $("select-all").addEventListener("change", (event) => {
    for (const b of document.querySelectorAll("input.pick")) b.checked = event.currentTarget.checked;
    updateSelection();
  });
  $("terminate-selected").addEventListener("click", terminateSelected);
  $("export").addEventListener("click", exportCsv);
}

// ----------------------------------------------------------------- charts

async function svgInto(figure, path) {
  const a = currentAuth();
  const res = await fetch(path, { headers: { Authorization: "Bearer " + a.token }, cache: "no-store", credentials: "omit" });
  if (!res.ok) throw new Error(String(res.status));
  const doc = new DOMParser().parseFromString(await res.text(), "image/svg+xml");
  figure.replaceChildren(document.importNode(doc.documentElement, true));
}

function numbers(caption, head, body) {
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, head.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, body.map((r) => h("tr", {}, r.map((c, i) => (i === 0 ? h("th", { scope: "row" }, c) : h("td", {}, c)))))),
  );
}

const hhmm = (iso) => iso.slice(11, 16);

async function loadCharts() {
  const w = window30 ? "30d" : "24h";
  try {
    const [open, term, sign, apps] = await Promise.all([
      api("GET", "/v1/stats/open-sessions?window=" + w),
      api("GET", "/v1/stats/terminations"),
      api("GET", "/v1/stats/sign-ins"),
      api("GET", "/v1/stats/applications"),
    ]);
    $("t-open").replaceChildren(numbers("Open sessions (numbers)", [window30 ? "Day (UTC)" : "Until (UTC)", "Open"],
      open.points.map((p) => [window30 ? p.at.slice(0, 10) : hhmm(p.at), p.open])));
    const days = term.days.filter((d) => d.total > 0);
    if (days.length === 0) days.push(["No terminations in these 30 days"]);
    $("t-term").replaceChildren(numbers("Terminations (numbers, days with any)", ["Day", ...term.reasons.map(reasonText), "All"],
      days.map((d) => (Array.isArray(d) ? d : [d.day, ...term.reasons.map((r) => d.reasons[r]), d.total]))));
    $("t-sign").replaceChildren(numbers("Sign-ins (numbers)", ["Hour (UTC)", "Sign-ins"], sign.hours.map((x) => [hhmm(x.hour), x.sign_ins])));
    $("t-apps").replaceChildren(numbers("Top applications (numbers)", ["Application", "Sign-ins"], apps.applications.map((a) => [a.name, a.sign_ins])));
    await Promise.all([
      svgInto($("c-open"), "/web/charts/open-sessions.svg?window=" + w),
      svgInto($("c-term"), "/web/charts/terminations.svg"),
      svgInto($("c-sign"), "/web/charts/sign-ins.svg"),
      svgInto($("c-apps"), "/web/charts/applications.svg"),
    ]);
  } catch (error) {
    if (error.kind === "forbidden") forbid();
  }
}

function setupCharts() {
  for (const [id, is30] of [["w-24h", false], ["w-30d", true]]) {
    $(id).addEventListener("click", () => {
      window30 = is30;
      $("w-24h").setAttribute("aria-pressed", String(!is30));
      $("w-30d").setAttribute("aria-pressed", String(is30));
      loadCharts();
    });
  }
}

// ------------------------------------------------------------------ start

function refreshAll({ quiet = false } = {}) {
  loadCounts();
  loadPage({ quiet });
  loadCharts();
}

function start() {
  auth = setupHeader();
  canTerminate = auth.scopes.includes(SCOPES.TERMINATE);
  if (!auth.scopes.includes(SCOPES.READ)) return forbid();
  if (!canTerminate) $("terminate-selected").title = "Terminating needs the sessions:terminate permission.";
  setupList();
  setupCharts();
  refreshAll();
  // Live: a session starting or ending anywhere in the tenant updates the list and the numbers.
  follow(debounce(() => refreshAll({ quiet: true }), 200));
}

if (!currentAuth()) location.replace(signinUrl());
else start();

// Console > Users > {user} > Sessions: a user's open sessions (terminate one or all) and the
// History tab (ended sessions, reason, who ended them), with a search of the tenant's users.
import {
  actionFailed,
  announce,
  api,
  confirmAction,
  currentAuth,
  debounce,
  deviceLabels,
  follow,
  h,
  hideState,
  lastActive,
  reasonText,
  sessionCard,
  setupHeader,
  showError,
  showState,
  SCOPES,
  signinUrl,
  timeElement,
} from "./common.js";

const $ = (id) => document.getElementById(id);
const match = location.pathname.match(/^\/console\/users\/([^/]+)\/sessions\/?$/);
const userId = match ? decodeURIComponent(match[1]) : null;
const userPath = userId ? "/v1/users/" + encodeURIComponent(userId) : null;
const READ = { what: "use the console", need: SCOPES.READ };
const TERMINATE = { what: "terminate sessions", need: SCOPES.TERMINATE };

let auth = null;
let canTerminate = false;
let active = [];
let devices = new Map();
let past = { loaded: false, items: [], cursor: null };
let searchSeq = 0;
let historySeq = 0; // only the latest history load shows (a live reload may overlap a click)

// ------------------------------------------------------------ not allowed

function forbid() {
  const box = $("forbidden");
  $("layout").hidden = true;
  box.hidden = false;
  box.replaceChildren(
    h("h1", { tabindex: "-1", id: "forbidden-title" }, "You cannot use the console"),
    h(
      "p",
      {},
      `You are signed in as ${auth.sub}, who is not allowed to use the console: ` +
        "it needs the sessions:read permission.",
    ),
    h(
      "p",
      {},
      h("a", { href: "/myaccount/sessions" }, "See your own sessions"),
      " or ",
      h("a", { href: signinUrl() }, "sign in as someone else"),
      ".",
    ),
  );
  $("forbidden-title").focus();
}

// ------------------------------------------------------------------ users

async function searchUsers(prefix) {
  const seq = ++searchSeq;
  const usersState = $("users-state");
  const query = new URLSearchParams({ limit: "50" });
  if (prefix) query.set("prefix", prefix);
  try {
    const data = await api("GET", "/v1/users?" + query);
    if (seq !== searchSeq) return;
    const users = data.users;
    if (users.length === 0) {
      const text = prefix
        ? `No user whose id starts with “${prefix}” has open sessions. Press Enter to open “${prefix}” anyway.`
        : "No user has an open session.";
      showState(usersState, "empty", text);
    } else {
      hideState(usersState);
    }
    $("users").replaceChildren(
      ...users.map((u) =>
        h(
          "li",
          {},
          h(
            "a",
            {
              href: `/console/users/${encodeURIComponent(u.user_id)}/sessions`,
              "aria-current": u.user_id === userId ? "page" : null,
            },
            h("span", {}, u.user_id),
            h("span", { class: "count" }, `${u.active_sessions} open`),
          ),
        ),
      ),
    );
  } catch (error) {
    if (seq !== searchSeq) return;
    if (error.kind === "forbidden") return forbid();
    $("users").replaceChildren();
    showError(usersState, error, { ...READ, retry: () => searchUsers(prefix) });
  }
}

function setupSearch() {
  const input = $("user-query");
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => searchUsers(input.value.trim()), 250);
  });
  $("user-search").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = input.value.trim();
    if (q) location.assign(`/console/users/${encodeURIComponent(q)}/sessions`);
  });
}

// ------------------------------------------------------------ active tab

function describe(s) {
  return `${devices.get(s.id) || "Unknown device"}${s.ip ? ", " + s.ip : ""}`;
}

async function loadActive({ quiet = false } = {}) {
  const box = $("active-state");
  $("active-list").setAttribute("aria-busy", "true");
  if (!quiet) showState(box, "loading", "Loading sessions…");
  try {
    const data = await api("GET", userPath + "/sessions");
    active = data.sessions;
    const labels = await deviceLabels(active.map((s) => s.user_agent));
    active.forEach((s, i) => devices.set(s.id, labels[i]));
    renderActive();
  } catch (error) {
    if (error.kind === "forbidden") return forbid();
    active = [];
    $("active-list").replaceChildren();
    $("terminate-all").hidden = true;
    showError(box, error, { ...READ, retry: loadActive });
  } finally {
    $("active-list").removeAttribute("aria-busy");
  }
}

function renderActive() {
  const box = $("active-state");
  $("terminate-all").hidden = !canTerminate || active.length === 0;
  if (active.length === 0) showState(box, "empty", `${userId} has no open sessions.`);
  else hideState(box);
  $("active-list").replaceChildren(
    ...active.map((s) =>
      sessionCard(s, devices.get(s.id), {
        facts: [
          ["Last activity", lastActive(s)],
          ["Expires", timeElement(s.expires_at)],
        ],
        actions: canTerminate
          ? [
              h(
                "button",
                {
                  type: "button",
                  class: "danger-outline",
                  "aria-label": `Terminate the session on ${describe(s)}`,
                  onclick: (event) => terminateOne(s, event.currentTarget),
                },
                "Terminate",
              ),
            ]
          : [],
      }),
    ),
  );
}

function afterTermination(endedIds) {
  const ended = new Set(endedIds);
  active = active.filter((s) => !ended.has(s.id));
  past.loaded = false;
  renderActive();
  searchUsers($("user-query").value.trim());
  $("page-title").focus();
}

async function terminateOne(session, button) {
  const ok = await confirmAction({
    title: `Terminate this session of ${userId}?`,
    body: `${describe(session)} will be signed out of every application it uses.`,
    confirm: "Terminate session",
  });
  if (!ok) return;
  button.disabled = true;
  try {
    await api("DELETE", `${userPath}/sessions/${encodeURIComponent(session.id)}`);
    announce(`Session terminated: ${describe(session)}.`);
  } catch (error) {
    if (error.kind !== "notfound") {
      button.disabled = false;
      actionFailed(error, $("active-state"), TERMINATE);
      return;
    }
    announce("That session had already ended.");
  }
  afterTermination([session.id]);
}

async function terminateAll() {
  const n = active.length;
  const ok = await confirmAction({
    title: `Terminate all sessions of ${userId}?`,
    body: `${n} session${n === 1 ? "" : "s"} will be signed out. ${userId} will have to sign in again everywhere.`,
    confirm: "Terminate all sessions",
  });
  if (!ok) return;
  const button = $("terminate-all");
  button.disabled = true;
  try {
    const data = await api("DELETE", userPath + "/sessions");
    announce(`${data.terminated.length} session${data.terminated.length === 1 ? "" : "s"} terminated.`);
    afterTermination(data.terminated);
  } catch (error) {
    actionFailed(error, $("active-state"), TERMINATE);
  } finally {
    button.disabled = false;
  }
}

// ----------------------------------------------------------- history tab

function endedBy(s) {
  if (!s.terminated_by) return "—";
  if (s.terminated_by === "system") return "The system";
  if (s.terminated_by === s.user_id) return `${s.terminated_by} (the user)`;
  return s.terminated_by;
}

function historyCard(s) {
  const status = s.status || (s.ended_at ? "ended" : "active");
  const label = { active: "Open", ended: "Ended", expired: "Expired" }[status] || status;
  const facts = [["Last activity", timeElement(s.last_active_at)]];
  if (status === "ended") {
    facts.push(["Ended", timeElement(s.ended_at)]);
    facts.push(["Reason", reasonText(s.termination_reason)]);
    facts.push(["Ended by", endedBy(s)]);
  } else if (status === "expired") {
    facts.push(["Expired", timeElement(s.expires_at)]);
  }
  return sessionCard(s, devices.get(s.id), {
    badges: [h("span", { class: status === "active" ? "badge open" : "badge ended" }, label)],
    facts,
  });
}

async function loadHistory(more = false) {
  const box = $("history-state");
  const moreButton = $("history-more");
  if (!more) {
    past = { loaded: false, items: [], cursor: null };
    $("history-list").replaceChildren();
    moreButton.hidden = true;
  }
  showState(box, "loading", "Loading history…");
  const seq = ++historySeq;
  const query = new URLSearchParams({ limit: "50" });
  if (more && past.cursor) query.set("cursor", past.cursor);
  try {
    const data = await api("GET", `${userPath}/sessions/history?${query}`);
    const labels = await deviceLabels(data.sessions.map((s) => s.user_agent));
    if (seq !== historySeq) return;
    data.sessions.forEach((s, i) => devices.set(s.id, labels[i]));
    past.items.push(...data.sessions);
    past.cursor = data.next_cursor || null;
    past.loaded = true;
    if (past.items.length === 0) showState(box, "empty", `${userId} has no sessions on record.`);
    else hideState(box);
    $("history-list").append(...data.sessions.map(historyCard));
    moreButton.hidden = !past.cursor;
  } catch (error) {
    if (seq !== historySeq) return;
    const context = {
      what: "see the history of sessions",
      need: SCOPES.AUDIT,
      retry: () => loadHistory(more),
    };
    showError(box, error, context);
  }
}

// ------------------------------------------------------------------ tabs

function selectTab(tab, { focus = false } = {}) {
  for (const t of document.querySelectorAll('[role="tab"]')) {
    const selected = t === tab;
    t.setAttribute("aria-selected", String(selected));
    t.tabIndex = selected ? 0 : -1;
    $(t.getAttribute("aria-controls")).hidden = !selected;
  }
  if (focus) tab.focus();
  const isHistory = tab.id === "tab-history";
  window.history.replaceState(null, "", isHistory ? "#history" : location.pathname);
  if (isHistory && !past.loaded) loadHistory();
}

function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => selectTab(tab));
    tab.addEventListener("keydown", (event) => {
      const moves = {
        ArrowRight: i + 1,
        ArrowLeft: i - 1,
        Home: 0,
        End: tabs.length - 1,
      };
      if (!(event.key in moves)) return;
      event.preventDefault();
      selectTab(tabs[(moves[event.key] + tabs.length) % tabs.length], { focus: true });
    });
  });
}

// ------------------------------------------------------------------ start

function start() {
  auth = setupHeader();
  canTerminate = auth.scopes.includes(SCOPES.TERMINATE);
  setupSearch();
  searchUsers("");
  if (!userId) return;
  document.title = `${userId} · Sessions · Console · Session Ledger`;
  $("crumb").textContent = `Console › Users › ${userId} › Sessions`;
  $("page-title").textContent = `Sessions of ${userId}`;
  $("lead").textContent = "What this user has open now, and how their past sessions ended.";
  $("user-view").hidden = false;
  $("read-only").hidden = canTerminate;
  $("refresh").addEventListener("click", () => loadActive());
  $("terminate-all").addEventListener("click", terminateAll);
  $("history-more").addEventListener("click", () => loadHistory(true));
  setupTabs();
  loadActive();
  if (location.hash === "#history") selectTab($("tab-history"));
  // Live: this user's sessions starting or ending elsewhere show without a reload.
  const reload = debounce(() => {
    loadActive({ quiet: true });
    searchUsers($("user-query").value.trim());
    past.loaded = false;
    if ($("tab-history").getAttribute("aria-selected") === "true") loadHistory();
  });
  follow((event) => {
    if (!event || event.user_id === userId) reload();
  });
}

if (!currentAuth()) location.replace(signinUrl());
else start();

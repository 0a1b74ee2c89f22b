// My account > Security > Active sessions: my open sessions, "this session" marked,
// terminate one other session or all of them (GET/DELETE /v1/me/sessions).
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
  sessionCard,
  setupHeader,
  showError,
  showState,
  SCOPES,
  signinUrl,
} from "./common.js";

const list = document.getElementById("sessions");
const state = document.getElementById("state");
const othersButton = document.getElementById("terminate-others");
const refreshButton = document.getElementById("refresh");
const title = document.getElementById("page-title");
const NEED = { what: "see the sessions of this account", need: SCOPES.ME };

let sessions = [];
let devices = new Map();

function describe(s) {
  return `${devices.get(s.id)}${s.ip ? ", " + s.ip : ""}`;
}

async function load({ quiet = false } = {}) {
  list.setAttribute("aria-busy", "true");
  if (!quiet) showState(state, "loading", "Loading your sessions…");
  try {
    const data = await api("GET", "/v1/me/sessions");
    sessions = data.sessions;
    const labels = await deviceLabels(sessions.map((s) => s.user_agent));
    devices = new Map(sessions.map((s, i) => [s.id, labels[i]]));
    render();
  } catch (error) {
    sessions = [];
    list.replaceChildren();
    othersButton.hidden = true;
    showError(state, error, { ...NEED, retry: load });
  } finally {
    list.removeAttribute("aria-busy");
  }
}

function render() {
  const ordered = [...sessions].sort((a, b) => Number(Boolean(b.current)) - Number(Boolean(a.current)));
  const others = sessions.filter((s) => !s.current);
  const hasCurrent = others.length !== sessions.length;
  othersButton.hidden = others.length === 0;
  othersButton.textContent = hasCurrent ? "Terminate all other sessions" : "Terminate all sessions";
  if (sessions.length === 0) {
    showState(state, "empty", "You have no open sessions.");
  } else if (others.length === 0) {
    showState(state, "empty", "No other sessions are open: only this one.");
  } else {
    hideState(state);
  }
  list.replaceChildren(
    ...ordered.map((s) =>
      sessionCard(s, devices.get(s.id), {
        badges: s.current ? [h("span", { class: "badge" }, "This session")] : [],
        facts: [["Last activity", lastActive(s)]],
        actions: s.current
          ? []
          : [
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
            ],
      }),
    ),
  );
}

async function terminateOne(session, button) {
  const ok = await confirmAction({
    title: "Terminate this session?",
    body: `${describe(session)} will be signed out. Anyone using it will have to sign in again.`,
    confirm: "Terminate session",
  });
  if (!ok) return;
  button.disabled = true;
  try {
    await api("DELETE", "/v1/me/sessions/" + encodeURIComponent(session.id));
    announce(`Session terminated: ${describe(session)}.`);
  } catch (error) {
    if (error.kind !== "notfound") {
      button.disabled = false;
      actionFailed(error, state, NEED);
      return;
    }
    announce("That session had already ended.");
  }
  sessions = sessions.filter((s) => s.id !== session.id);
  render();
  title.focus();
}

async function terminateOthers() {
  const others = sessions.filter((s) => !s.current);
  const ok = await confirmAction({
    title: othersButton.textContent + "?",
    body:
      `${others.length} session${others.length === 1 ? "" : "s"} will be signed out. ` +
      "This session stays signed in.",
    confirm: othersButton.textContent,
  });
  if (!ok) return;
  othersButton.disabled = true;
  try {
    const keep = sessions.some((s) => s.current);
    const data = await api("DELETE", "/v1/me/sessions" + (keep ? "?keep_current=true" : ""));
    const ended = new Set(data.terminated);
    sessions = sessions.filter((s) => !ended.has(s.id));
    render();
    announce(`${ended.size} session${ended.size === 1 ? "" : "s"} terminated.`);
    title.focus();
  } catch (error) {
    actionFailed(error, state, NEED);
  } finally {
    othersButton.disabled = false;
  }
}

if (!currentAuth()) {
  location.replace(signinUrl());
} else {
  setupHeader();
  othersButton.addEventListener("click", terminateOthers);
  refreshButton.addEventListener("click", () => load());
  load();
  // Live: a session of mine starting or ending elsewhere shows here without a reload.
  follow(debounce(() => load({ quiet: true })));
}

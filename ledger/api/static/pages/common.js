// Shared by the Session Ledger pages: the bearer token (sessionStorage only), calls to the
// v1 API, plain-words states (loading, empty, errors), the confirmation dialog, formatting.

import { REASONS, SCOPES } from "/web/vocabulary.js";

const AUTH_KEY = "ledger.auth";

// ------------------------------------------------------------------ the token

function b64urlDecode(part) {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "===".slice((b64.length + 3) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The claims of a JWT, read without checking the signature (the API checks it). */
export function claimsOf(token) {
  try {
    return JSON.parse(b64urlDecode(token.split(".")[1]));
  } catch {
    return {};
  }
}

/** Keep the token for this tab only; it never goes into a URL. */
export function saveToken(token, via) {
  sessionStorage.setItem(AUTH_KEY, JSON.stringify({ token, via }));
}

/** The signed-in caller: {token, via, sub, tenant, sid, exp, scopes}, or null. */
export function currentAuth() {
  let stored;
  try {
    stored = JSON.parse(sessionStorage.getItem(AUTH_KEY) || "null");
  } catch {
    stored = null;
  }
  if (!stored || typeof stored.token !== "string") return null;
  const c = claimsOf(stored.token);
  const scope = Array.isArray(c.scp) ? c.scp.join(" ") : c.scope || "";
  return {
    token: stored.token,
    via: stored.via,
    sub: c.sub || "(unknown)",
    tenant: c.tenant || "default",
    sid: c.sid || null,
    exp: typeof c.exp === "number" ? c.exp : null,
    scopes: scope.split(/\s+/).filter(Boolean),
  };
}

export function isExpired(auth) {
  return auth.exp !== null && auth.exp * 1000 <= Date.now();
}

export function signOut() {
  sessionStorage.removeItem(AUTH_KEY);
}

export function signinUrl(next = location.pathname + location.hash) {
  return "/signin?next=" + encodeURIComponent(next);
}

// ------------------------------------------------------------------- the API

/** A failed call, sorted into what the person can do about it. */
export class ApiError extends Error {
  constructor(kind, status = 0, detail = "") {
    super(detail || kind);
    this.kind = kind; // signin, expired, forbidden, notfound, network, server, invalid
    this.status = status;
    this.detail = detail;
  }
}

/** Call the ledger with the bearer token; resolves to the JSON body (null for 204). */
export async function api(method, path, body) {
  const auth = currentAuth();
  if (!auth) throw new ApiError("signin");
  if (isExpired(auth)) throw new ApiError("expired");
  const headers = { Authorization: "Bearer " + auth.token, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError("network");
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok) return data;
  const detail = (data && (data.detail || data.title)) || "";
  if (res.status === 401) throw new ApiError("expired", 401, detail);
  if (res.status === 403) throw new ApiError("forbidden", 403, detail);
  if (res.status === 404) throw new ApiError("notfound", 404, detail);
  if (res.status >= 500) throw new ApiError("server", res.status, detail);
  throw new ApiError("invalid", res.status, detail);
}

const deviceCache = new Map();

/** "Firefox on Windows" for each user agent (parsed by the server; cached per page). */
export async function deviceLabels(userAgents) {
  const missing = [...new Set(userAgents.filter((ua) => ua && !deviceCache.has(ua)))];
  if (missing.length) {
    try {
      const data = await api("POST", "/web/devices", { user_agents: missing });
      missing.forEach((ua, i) => deviceCache.set(ua, data.devices[i]));
    } catch {
      // Labels are a nicety: fall back below rather than fail the page.
    }
  }
  return userAgents.map((ua) => (ua ? deviceCache.get(ua) || "Unknown browser" : "Unknown device"));
}

// --------------------------------------------------------------------- the DOM

/** Build an element: h("p", {class: "x"}, "text", child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** What to tell the person about an error, in plain words. */
export function explain(error, { what = "do this", need = "" } = {}) {
  const auth = currentAuth();
  switch (error.kind) {
    case "signin":
      return { text: "You are not signed in.", signin: true };
    case "expired":
      return {
        text: "Your sign-in has expired or is no longer valid. Sign in again to continue.",
        signin: true,
      };
    case "forbidden":
      return {
        text:
          `You are signed in as ${auth ? auth.sub : "someone"}, who is not allowed to ${what}.` +
          (need ? ` That needs the ${need} permission.` : ""),
      };
    case "network":
      return {
        text: "The Session Ledger could not be reached. Check your network connection, then try again.",
        retry: true,
      };
    case "server":
      return {
        text: `The Session Ledger could not answer (error ${error.status}). Try again in a moment.`,
        retry: true,
      };
    case "notfound":
      return { text: "That session no longer exists: it may have ended already." };
    default:
      return { text: `The request was refused: ${error.detail || "error " + error.status}.` };
  }
}

/** Show a loading, empty or error state in `box` (a .state element). */
export function showState(box, kind, message, { retry, extra } = {}) {
  box.hidden = false;
  box.className = "state " + kind;
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  const parts = [h("p", {}, message)];
  if (extra) parts.push(extra);
  if (retry) parts.push(h("p", {}, h("button", { class: "secondary", onclick: retry }, "Try again")));
  box.replaceChildren(...parts);
}

export function showError(box, error, context = {}) {
  const info = explain(error, context);
  const extra = info.signin
    ? h("p", {}, h("a", { class: "button", href: signinUrl() }, "Sign in again"))
    : context.extra;
  showState(box, "error", info.text, { retry: info.retry ? context.retry : undefined, extra });
}

export function hideState(box) {
  box.hidden = true;
  box.replaceChildren();
}

/** An action failed: say why; a sign-in that ended also gets its "Sign in again" button. */
export function actionFailed(error, box, context) {
  announce(explain(error, context).text, true);
  if (error.kind === "expired" || error.kind === "signin") showError(box, error, context);
}

/** Say something in the page's polite live region (`#notice`). */
export function announce(message, isError = false) {
  const notice = document.getElementById("notice");
  notice.classList.toggle("error", isError);
  notice.textContent = "";
  // A fresh text node after clearing makes screen readers read repeated messages too.
  requestAnimationFrame(() => {
    notice.textContent = message;
  });
}

/** Ask before terminating: resolves true when the person confirms. */
export function confirmAction({ title, body, confirm }) {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector("#confirm-title").textContent = title;
  dialog.querySelector("#confirm-body").textContent = body;
  dialog.querySelector("#confirm-ok").textContent = confirm;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    dialog.querySelector("[value=cancel]").focus();
  });
}

/** The header: who is signed in, and a sign-out button. */
export function setupHeader() {
  const who = document.getElementById("who");
  const auth = currentAuth();
  if (!auth) {
    who.replaceChildren(h("a", { href: signinUrl(), class: "brand" }, "Sign in"));
    return null;
  }
  const tenant = auth.tenant === "default" ? "" : ` (${auth.tenant})`;
  const links = [["/myaccount/sessions", "My sessions", auth.scopes.includes(SCOPES.ME)]];
  links.push(["/console", "Console", auth.scopes.includes(SCOPES.READ)]);
  const nav = h(
    "nav",
    { "aria-label": "Pages", class: "pages-nav" },
    links
      .filter(([, , allowed]) => allowed)
      .map(([href, label]) =>
        h("a", { href, "aria-current": location.pathname.startsWith(href) ? "true" : null }, label),
      ),
  );
  who.replaceChildren(
    nav,
    h("span", {}, "Signed in as ", h("strong", {}, auth.sub), tenant),
    h(
      "button",
      {
        type: "button",
        onclick: () => {
          signOut();
          location.assign(signinUrl());
        },
      },
      "Sign out",
    ),
  );
  return auth;
}

// -------------------------------------------------------------- formatting

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

export function timeElement(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: date.toISOString() }, dateFormat.format(date));
}

export function ago(iso) {
  if (!iso) return "";
  const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [7, "day"],
    [Infinity, "week"],
  ];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return relativeFormat.format(Math.round(value), unit);
    value /= size;
  }
  return "";
}

export { REASONS, SCOPES };

export function reasonText(reason) {
  return REASONS[reason] || reason || "—";
}

export function appsText(session) {
  const apps = session.applications || [];
  return apps.length ? apps.map((a) => a.name || a.id).join(", ") : "—";
}

/** One session as a card: device heading, facts, and optional badges and actions. */
export function sessionCard(session, device, { badges = [], facts = [], actions = [] } = {}) {
  const headingId = "s-" + session.id.replace(/[^A-Za-z0-9_-]/g, "_");
  const rows = [
    ["IP address", session.ip || "—"],
    ["Applications", appsText(session)],
    ["Signed in", timeElement(session.started_at)],
    ...facts,
  ];
  return h(
    "li",
    { class: "session", "data-session-id": session.id, "aria-labelledby": headingId },
    h(
      "div",
      {},
      h(
        "div",
        { class: "session-head" },
        h("h3", { id: headingId, title: session.user_agent || "" }, device),
        ...badges,
      ),
      h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    ),
    actions.length ? h("div", { class: "session-actions" }, ...actions) : null,
  );
}

export function lastActive(session) {
  return h("span", {}, timeElement(session.last_active_at), " (", ago(session.last_active_at), ")");
}

// ------------------------------------------------------------ live updates

/**
 * Follow GET /v1/events (server-sent events) with the bearer token, calling `onEvent(data)` for
 * each session started or ended, and `onEvent(null)` when the page should reload its list
 * (after a reconnect that missed too much). fetch() rather than EventSource, so the token
 * goes in a header, never in the URL. A dropped stream reconnects after a pause with
 * Last-Event-ID, and gets what it missed. Returns a function that stops following.
 */
export function follow(onEvent) {
  let lastId = null;
  let stopped = false;
  let controller = null;
  const dispatch = (block) => {
    const fields = {};
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const name = at < 0 ? line : line.slice(0, at);
      fields[name] = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
    }
    if (fields.id) lastId = fields.id;
    if (fields.event === "reset") onEvent(null);
    else if (fields.event === "session" && fields.data) onEvent(JSON.parse(fields.data));
  };
  const run = async () => {
    while (!stopped) {
      const auth = currentAuth();
      if (!auth || isExpired(auth)) return;
      controller = new AbortController();
      const headers = { Authorization: "Bearer " + auth.token, Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      try {
        const res = await fetch("/v1/events", {
          headers,
          cache: "no-store",
          credentials: "omit",
          signal: controller.signal,
        });
        if (res.status === 401 || res.status === 403) return;
        if (res.ok && res.body) {
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value.replace(/\r\n?/g, "\n");
            let end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              dispatch(buffer.slice(0, end));
              buffer = buffer.slice(end + 2);
            }
          }
        }
      } catch {
        // dropped: reconnect below
      }
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };
  run();
  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}

/** Call `fn` at most once per `ms`, after the last call (several events: one reload). */
export function debounce(fn, ms = 150) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

// Sign-in: OpenID Connect authorization code flow with PKCE (discovery and code exchange in
// the browser), and the development sign-in when the server runs with its development secret.
// The token goes to sessionStorage only; this page is also the OIDC redirect URI.
import {
  claimsOf,
  currentAuth,
  h,
  hideState,
  isExpired,
  SCOPES,
  saveToken,
  showState,
} from "./common.js";

const OIDC_KEY = "ledger.oidc";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const stateBox = $("state");

// What the identity provider's `error` codes mean, in our words (RFC 6749 §4.1.2.1, §5.2;
// OpenID Connect Core §3.1.2.6). Its `error_description` is never shown: the address bar can
// carry any text, and a sign-in page must not display text a stranger put in a link.
const IDP_ERRORS = {
  access_denied: "the identity provider denied access",
  consent_required: "consent is needed at the identity provider",
  interaction_required: "the identity provider needs you to sign in there first",
  login_required: "the identity provider needs you to sign in there first",
  account_selection_required: "choose an account at the identity provider first",
  invalid_request: "the identity provider refused the request",
  invalid_grant: "the sign-in expired or was already used; start again",
  invalid_client: "this application is not registered at the identity provider",
  unauthorized_client: "this application may not sign in this way",
  invalid_scope: "the identity provider refused the requested permissions",
  server_error: "the identity provider failed; try again later",
  temporarily_unavailable: "the identity provider is busy; try again later",
};

function idpErrorMessage(code) {
  return Object.hasOwn(IDP_ERRORS, code) ? IDP_ERRORS[code] : "the identity provider refused the sign-in";
}

function safeNext(value) {
  return value && /^\/(console|myaccount)(\/|$|#)/.test(value) ? value : "/myaccount/sessions";
}

const next = safeNext(params.get("next"));

function b64url(bytes) {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function randomString(size) {
  return b64url(crypto.getRandomValues(new Uint8Array(size)));
}

async function pkceChallenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return b64url(new Uint8Array(digest));
}

function redirectUri() {
  return location.origin + "/signin";
}

function trimSlash(url) {
  return url.replace(/\/+$/, "");
}

async function discover(issuer) {
  let res;
  try {
    res = await fetch(trimSlash(issuer) + "/.well-known/openid-configuration", {
      credentials: "omit",
    });
  } catch {
    throw new Error("the identity provider could not be reached");
  }
  if (!res.ok) throw new Error(`its discovery document answered ${res.status}`);
  const doc = await res.json();
  if (doc.issuer && trimSlash(doc.issuer) !== trimSlash(issuer)) {
    throw new Error("its discovery document names another issuer");
  }
  if (!doc.authorization_endpoint || !doc.token_endpoint) {
    throw new Error("its discovery document has no authorization or token endpoint");
  }
  return doc;
}

function scopesFor(target) {
  return target.startsWith("/console")
    ? ["openid", SCOPES.READ, SCOPES.TERMINATE, SCOPES.AUDIT].join(" ")
    : ["openid", SCOPES.ME].join(" ");
}

async function startOidc(oidc) {
  const doc = await discover(oidc.issuer);
  const verifier = randomString(48);
  const state = randomString(16);
  const nonce = randomString(16);
  sessionStorage.setItem(
    OIDC_KEY,
    JSON.stringify({ verifier, state, nonce, next, token_endpoint: doc.token_endpoint }),
  );
  const url = new URL(doc.authorization_endpoint);
  const query = {
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: redirectUri(),
    scope: scopesFor(next),
    state,
    nonce,
    code_challenge: await pkceChallenge(verifier),
    code_challenge_method: "S256",
  };
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  location.assign(url.toString());
}

async function finishOidc(oidc) {
  const stored = JSON.parse(sessionStorage.getItem(OIDC_KEY) || "null");
  sessionStorage.removeItem(OIDC_KEY);
  window.history.replaceState(null, "", "/signin"); // the code leaves the address bar
  if (params.has("error")) {
    throw new Error(idpErrorMessage(params.get("error")));
  }
  if (!stored || stored.state !== params.get("state")) {
    throw new Error("the answer does not match a sign-in started in this tab");
  }
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code: params.get("code") || "",
    redirect_uri: redirectUri(),
    client_id: oidc.client_id,
    code_verifier: stored.verifier,
  });
  let res;
  try {
    res = await fetch(stored.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body,
      credentials: "omit",
    });
  } catch {
    throw new Error("the identity provider could not be reached");
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok || !data.access_token) {
    throw new Error(`no token was given: ${idpErrorMessage(data.error)}`);
  }
  if (data.id_token && claimsOf(data.id_token).nonce !== stored.nonce) {
    throw new Error("the identity provider's answer does not match this sign-in");
  }
  saveToken(data.access_token, "oidc");
  location.replace(safeNext(stored.next));
}

// ------------------------------------------------------------ development

function setupDevForm() {
  const form = $("dev-form");
  const wanted = next.startsWith("/console")
    ? [SCOPES.READ, SCOPES.TERMINATE, SCOPES.AUDIT]
    : [SCOPES.ME];
  for (const box of form.querySelectorAll('input[name="scope"]')) {
    box.checked = wanted.includes(box.value);
  }
  form.addEventListener("submit", devSignin);
}

function fieldError(message) {
  const input = $("dev-user");
  $("dev-user-error").textContent = message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

async function devSignin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const user = $("dev-user").value.trim();
  const scopes = [...form.querySelectorAll('input[name="scope"]:checked')].map((b) => b.value);
  if (!user) {
    fieldError("Enter the id of the user to sign in as.");
    $("dev-user").focus();
    return;
  }
  fieldError("");
  $("dev-submit").disabled = true;
  showState(stateBox, "loading", "Signing in…");
  try {
    const res = await fetch("/web/dev-signin", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({
        user_id: user,
        tenant: $("dev-tenant").value.trim() || "default",
        scopes,
        start_session: $("dev-start").checked,
      }),
      credentials: "omit",
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      showState(stateBox, "error", `Sign-in refused: ${data.detail || data.title || res.status}.`);
      return;
    }
    saveToken(data.access_token, "dev");
    location.assign(next);
  } catch {
    showState(stateBox, "error", "The Session Ledger could not be reached. Try again.");
  } finally {
    $("dev-submit").disabled = false;
  }
}

// ------------------------------------------------------------------ start

async function loadConfig() {
  const res = await fetch("/web/config", { credentials: "omit" });
  if (!res.ok) throw new Error(String(res.status));
  return res.json();
}

async function start() {
  let config;
  try {
    config = await loadConfig();
  } catch {
    showState(stateBox, "error", "The Session Ledger could not be reached. Reload the page.");
    return;
  }
  if (config.oidc && (params.has("code") || params.has("error"))) {
    showState(stateBox, "loading", "Finishing the sign-in…");
    try {
      await finishOidc(config.oidc);
      return;
    } catch (error) {
      showState(stateBox, "error", `The sign-in did not complete: ${error.message}.`);
    }
  } else {
    const auth = currentAuth();
    if (auth && !isExpired(auth)) {
      showState(
        stateBox,
        "empty",
        `You are signed in as ${auth.sub}. `,
        { extra: h("p", {}, h("a", { href: next }, "Continue")) },
      );
    } else {
      hideState(stateBox);
    }
  }
  if (config.oidc) {
    $("oidc").hidden = false;
    const host = new URL(config.oidc.issuer).host;
    $("oidc-issuer").textContent = `You will sign in at ${config.oidc.issuer}, then come back here.`;
    $("oidc-signin").textContent = `Sign in with ${host}`;
    $("oidc-signin").addEventListener("click", () =>
      startOidc(config.oidc).catch((error) =>
        showState(stateBox, "error", `The sign-in could not start: ${error.message}.`),
      ),
    );
  }
  if (config.dev_signin) {
    $("dev").hidden = false;
    setupDevForm();
  }
  if (!config.oidc && !config.dev_signin) {
    showState(
      stateBox,
      "warn",
      "No sign-in is configured. Set LEDGER_OIDC_ISSUER and LEDGER_OIDC_CLIENT_ID, " +
        "or run the server in development mode (make run).",
    );
  }
}

start();

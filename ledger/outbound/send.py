"""One delivery attempt: a SET pushed (RFC 8935) or a Standard Webhooks message, and what the
answer means. Sending decides nothing about what is sent: the outbox did, once.

* RFC 8935 §2.2: only `202 Accepted` is success. §2.3/§2.4: a `400` with `{"err"}` is
  recorded; `invalid_request`, `invalid_issuer` and `invalid_audience` say this very SET will
  never be accepted, so it is not retried; other refusals and failures are retried.
* Standard Webhooks ("Signature scheme", "Delivery behaviour"): `webhook-id` (stable across
  retries), `webhook-timestamp` (seconds of this attempt), `webhook-signature` `v1,<HMAC>`
  over `id.timestamp.body`; any 2xx is success; `410 Gone` disables the endpoint.
* An identity provider's session API (`end_at_idp`): any 2xx is success; `404` (and `410`)
  mean the session or user is already gone there, which is what was wanted (`ENDED`); a
  `401` drops the cached token and the call is made once more with a fresh one; a `400`
  will never succeed (`REJECT`); anything else (403, 429, 5xx, no answer) is retried.
Tests: tests/outbound/test_delivery.py, tests/outbound/test_webhooks.py,
tests/enforcement/test_enforcement.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from standardwebhooks import Webhook

from ledger.outbound.keys import SigningKeys
from ledger.outbound.tokens import ClientCredentials, TokenError

FINAL_ERRORS = frozenset({"invalid_request", "invalid_issuer", "invalid_audience"})
OK, RETRY, REJECT, GONE = "ok", "retry", "reject", "gone"
ENDED = "ended"  # the IdP had nothing left to end (404): delivered


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    kind: str  # OK, RETRY, REJECT (never again), GONE (disable the receiver), ENDED
    error: str | None = None
    retry_after_s: float | None = None


def push_set(
    client: httpx.Client, *, url: str, claims: dict[str, Any], keys: SigningKeys,
    authorization: str | None,
) -> Outcome:  # fmt: skip
    """POST the signed SET to a push endpoint (RFC 8935 §2)."""
    headers = {"Content-Type": "application/secevent+jwt", "Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization  # SSF 1.0 §6.1.1: sent as given
    try:
        response = client.post(url, content=keys.sign(claims).encode(), headers=headers)
    except httpx.HTTPError as e:
        return Outcome(RETRY, f"{type(e).__name__}: {e}")
    if response.status_code == 202:
        return Outcome(OK)
    if response.status_code == 400:
        err, description = _set_error(response)
        if err is not None:
            kind = REJECT if err in FINAL_ERRORS else RETRY
            return Outcome(kind, f"400 {err}: {description}" if description else f"400 {err}")
    return _failure(response)


def _set_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """RFC 8935 §2.3: `{"err": code, "description": text}`."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(body, dict) or not isinstance(body.get("err"), str):
        return None, None
    description = body.get("description")
    return body["err"], description if isinstance(description, str) else None


def _failure(response: httpx.Response) -> Outcome:
    retry_after: float | None = None
    header = response.headers.get("retry-after", "")
    if header.isdigit():
        retry_after = float(header)
    return Outcome(RETRY, f"HTTP {response.status_code}", retry_after)


def webhook_headers(
    *, secret: str, msg_id: str, body: bytes, at: datetime | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    moment = at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=moment, data=body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
    }


def post_webhook(
    client: httpx.Client, *, url: str, secret: str, msg_id: str, message: dict[str, Any]
) -> Outcome:
    """POST one signed webhook message."""
    body = orjson.dumps(message)
    try:
        response = client.post(
            url, content=body, headers=webhook_headers(secret=secret, msg_id=msg_id, body=body)
        )
    except httpx.HTTPError as e:
        return Outcome(RETRY, f"{type(e).__name__}: {e}")
    if 200 <= response.status_code < 300:
        return Outcome(OK)
    if response.status_code == 410:
        return Outcome(GONE, "HTTP 410 Gone")
    return _failure(response)


def end_at_idp(
    client: httpx.Client, *, method: str, url: str, tokens: ClientCredentials
) -> Outcome:
    """Call an identity provider's session API with a bearer token (RFC 6750 §2.1)."""
    try:
        response = _with_token(client, method=method, url=url, tokens=tokens)
        if response.status_code == 401:  # expired or revoked at the IdP: once more, fresh
            response = _with_token(client, method=method, url=url, tokens=tokens)
    except TokenError as e:
        return Outcome(RETRY, str(e))
    except httpx.HTTPError as e:
        return Outcome(RETRY, f"{type(e).__name__}: {e}")
    if 200 <= response.status_code < 300:
        return Outcome(OK)
    if response.status_code in (404, 410):
        return Outcome(ENDED, f"HTTP {response.status_code}: already gone")
    if response.status_code == 400:
        return Outcome(REJECT, "HTTP 400")
    return _failure(response)


def _with_token(
    client: httpx.Client, *, method: str, url: str, tokens: ClientCredentials
) -> httpx.Response:
    """One call with the cached token; a token the IdP refuses (401) is dropped."""
    token = tokens.token()
    response = client.request(method, url, headers={"Authorization": f"Bearer {token}"})
    if response.status_code == 401:
        tokens.invalidate(token)
    return response

"""The Shared Signals transmitter over HTTP: discovery, JWKS, stream management, poll.

* `/.well-known/ssf-configuration` (SSF 1.0 §7.1) and `/.well-known/jwks.json`.
* Streams (SSF 1.0 §8.1.1-§8.1.4): configuration CRUD, status, subjects, verification. Scope
  `ssf.manage` (`ssf.read` reads); a receiver (token `sub`) sees its own streams in its own
  tenant only: another's stream is 404.
* Poll (RFC 8936 §2.4): `ack`, `setErrs`, `maxEvents`, `returnImmediately`, `moreAvailable`.
Tests: tests/outbound/test_ssf_api.py, tests/outbound/test_poll.py.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Depends, Query, Request
from starlette.responses import Response

from ledger.api.auth import SSF_MANAGE, SSF_READ, CurrentPrincipal, Principal, require_scope
from ledger.api.problems import ApiProblem, error_responses
from ledger.api.responses import OrjsonResponse
from ledger.outbound import control, queue, receivers
from ledger.outbound.runtime import Outbound
from ledger.outbound.sets import ALL
from ledger.outbound.store import SSF
from ledger.outbound.streams import POLL, PUSH, StreamError, build_config, parse_poll, public

router = APIRouter(
    tags=["shared signals"], responses=error_responses(400, 401, 403, 404, 413, 422, 503)
)
Manager = Annotated[Principal, Depends(require_scope(SSF_MANAGE))]
STATUSES = ("enabled", "paused", "disabled")
JsonBody = Annotated[dict[str, Any], Body()]


def outbound_of(request: Request) -> Outbound:
    """The outbound parts of this application (503 while starting)."""
    outbound: Outbound | None = getattr(request.app.state, "outbound", None)
    if outbound is None:
        raise ApiProblem(503, "unavailable", "Service unavailable", "the ledger is starting")
    return outbound


def transmitter(request: Request) -> Outbound:
    """The outbound parts, when this ledger is a transmitter (issuer and keys configured)."""
    outbound = outbound_of(request)
    if outbound.issuer is None or outbound.keys is None:
        raise ApiProblem(
            404, "not-a-transmitter", "Not found",
            "no Shared Signals transmitter here: set LEDGER_ISSUER and LEDGER_SIGNING_KEY_FILE",
        )  # fmt: skip
    return outbound


Transmitter = Annotated[Outbound, Depends(transmitter)]


async def reader(principal: CurrentPrincipal) -> Principal:
    """The caller, when its token carries `ssf.read` or `ssf.manage` (else 403)."""
    if not principal.scopes & {SSF_READ, SSF_MANAGE}:
        raise ApiProblem(403, "insufficient-scope", "Forbidden", "the token lacks ssf.read")
    return principal


Reader = Annotated[Principal, Depends(reader)]


def _url(outbound: Outbound, path: str) -> str:
    assert outbound.issuer is not None
    return outbound.issuer.rstrip("/") + path


@router.get("/.well-known/ssf-configuration/{issuer_path:path}", summary="SSF metadata (path)")
def configuration_of_path(outbound: Transmitter, issuer_path: str) -> Response:
    """SSF 1.0 §7.2: with an issuer that has a path, the well-known name goes before it."""
    assert outbound.issuer is not None
    if urlsplit(outbound.issuer).path.strip("/") != issuer_path.strip("/"):
        raise ApiProblem(404, "not-found", "Not found", "no transmitter of that issuer here")
    return configuration(outbound)


@router.get("/.well-known/ssf-configuration", summary="SSF transmitter metadata")
def configuration(outbound: Transmitter) -> Response:
    """SSF 1.0 §7.1: the transmitter's configuration metadata."""
    return OrjsonResponse(
        {
            "spec_version": "1_0",
            "issuer": outbound.issuer,
            "jwks_uri": _url(outbound, "/.well-known/jwks.json"),
            "delivery_methods_supported": [PUSH, POLL],
            "configuration_endpoint": _url(outbound, "/v1/ssf/streams"),
            "status_endpoint": _url(outbound, "/v1/ssf/status"),
            "add_subject_endpoint": _url(outbound, "/v1/ssf/subjects:add"),
            "remove_subject_endpoint": _url(outbound, "/v1/ssf/subjects:remove"),
            "verification_endpoint": _url(outbound, "/v1/ssf/verify"),
            "critical_subject_members": ["user"],
            "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
            "default_subjects": ALL,
        }
    )


@router.get("/.well-known/jwks.json", summary="The keys that sign SETs")
def jwks(outbound: Transmitter) -> Response:
    """RFC 7517 §5: the public keys; the first signs, the others are kept for rotation."""
    assert outbound.keys is not None
    return OrjsonResponse(outbound.keys.jwks(), headers={"Cache-Control": "max-age=300"})


def _stream(outbound: Outbound, principal: Principal, stream_id: str | None) -> dict[str, Any]:
    if not stream_id:
        raise ApiProblem(400, "bad-request", "Bad request", "stream_id is required")
    found = receivers.get(outbound.store, stream_id, tenant=principal.tenant, owner=principal.sub)
    if found is None or found["kind"] != SSF:
        raise ApiProblem(404, "not-found", "Not found", f"no stream {stream_id!r}")
    return found


def _config(
    outbound: Outbound, principal: Principal, body: dict[str, Any], *,
    stream_id: str, existing: dict[str, Any] | None, replace: bool,
) -> dict[str, Any]:  # fmt: skip
    settings = outbound.settings
    transmitter_members = {
        "stream_id": stream_id,
        "iss": outbound.issuer,
        "aud": existing["aud"] if existing else principal.sub,
        "user_iss": settings.jwt_issuer or outbound.issuer,
        "default_subjects": ALL,
    }
    try:
        return build_config(
            body, existing=existing, transmitter=transmitter_members,
            poll_url=_url(outbound, f"/v1/ssf/poll/{stream_id}"),
            allow_private=outbound.allow_private, replace=replace,
        )  # fmt: skip
    except StreamError as e:
        raise ApiProblem(400, "bad-request", "Bad request", str(e)) from None


@router.post("/v1/ssf/streams", status_code=201, summary="Create a stream")
def create_stream(outbound: Transmitter, principal: Manager, body: JsonBody) -> Response:
    """SSF 1.0 §8.1.1.1: create a stream; it gets the events recorded from now on."""
    stream_id = str(uuid.uuid4())
    config = _config(outbound, principal, body, stream_id=stream_id, existing=None, replace=True)
    receivers.create(
        outbound.store, receiver_id=stream_id, kind=SSF, tenant=principal.tenant,
        owner=principal.sub, config=config, from_position=outbound.head(),
    )  # fmt: skip
    return OrjsonResponse(public(stream_id, config), status_code=201)


@router.get("/v1/ssf/streams", summary="Read one stream, or list them")
def read_streams(
    outbound: Transmitter, principal: Reader, stream_id: Annotated[str | None, Query()] = None
) -> Response:
    """SSF 1.0 §8.1.1.2: one stream's configuration, or all of the caller's."""
    if stream_id is not None:
        found = _stream(outbound, principal, stream_id)
        return OrjsonResponse(public(stream_id, found["config"]))
    streams = receivers.find(outbound.store, tenant=principal.tenant, owner=principal.sub, kind=SSF)
    return OrjsonResponse([public(r["receiver_id"], r["config"]) for r in streams])


def _change(
    outbound: Outbound, principal: Principal, body: dict[str, Any], *, replace: bool
) -> Response:
    stream_id = body.get("stream_id")
    found = _stream(outbound, principal, stream_id if isinstance(stream_id, str) else None)
    config = _config(
        outbound, principal, body, stream_id=found["receiver_id"], existing=found["config"],
        replace=replace,
    )  # fmt: skip
    receivers.replace_config(outbound.store, found["receiver_id"], config)
    return OrjsonResponse(public(found["receiver_id"], config))


@router.patch("/v1/ssf/streams", summary="Update a stream")
def update_stream(outbound: Transmitter, principal: Manager, body: JsonBody) -> Response:
    """SSF 1.0 §8.1.1.3: change the members the request names."""
    return _change(outbound, principal, body, replace=False)


@router.put("/v1/ssf/streams", summary="Replace a stream")
def replace_stream(outbound: Transmitter, principal: Manager, body: JsonBody) -> Response:
    """SSF 1.0 §8.1.1.4: replace every receiver-supplied member."""
    return _change(outbound, principal, body, replace=True)


@router.delete("/v1/ssf/streams", status_code=204, summary="Delete a stream")
def delete_stream(
    outbound: Transmitter, principal: Manager, stream_id: Annotated[str | None, Query()] = None
) -> Response:
    """SSF 1.0 §8.1.1.5: forget the stream and what it held."""
    found = _stream(outbound, principal, stream_id)
    receivers.delete(outbound.store, found["receiver_id"])
    return Response(status_code=204)


def _status(found: dict[str, Any]) -> dict[str, Any]:
    shown = {"stream_id": found["receiver_id"], "status": found["status"]}
    if found.get("status_reason"):
        shown["reason"] = found["status_reason"]
    return shown


@router.get("/v1/ssf/status", summary="A stream's status")
def read_status(
    outbound: Transmitter, principal: Reader, stream_id: Annotated[str | None, Query()] = None
) -> Response:
    """SSF 1.0 §8.1.2.1: enabled, paused or disabled."""
    return OrjsonResponse(_status(_stream(outbound, principal, stream_id)))


@router.post("/v1/ssf/status", summary="Change a stream's status")
def update_status(outbound: Transmitter, principal: Manager, body: JsonBody) -> Response:
    """SSF 1.0 §8.1.2.2: paused holds events; disabled holds nothing."""
    found = _stream(outbound, principal, body.get("stream_id"))
    status, reason = body.get("status"), body.get("reason")
    if status not in STATUSES:
        raise ApiProblem(400, "bad-request", "Bad request", "status: enabled, paused or disabled")
    if reason is not None and not isinstance(reason, str):
        raise ApiProblem(400, "bad-request", "Bad request", "reason: text")
    receivers.set_status(outbound.store, found["receiver_id"], status, reason)
    outbound.wake()
    return OrjsonResponse(_status({**found, "status": status, "status_reason": reason}))


def _subject(body: dict[str, Any]) -> dict[str, Any]:
    subject = body.get("subject")
    if not isinstance(subject, dict) or not isinstance(subject.get("format"), str):
        raise ApiProblem(
            400, "bad-request", "Bad request", "subject: an RFC 9493 subject identifier"
        )
    return subject


@router.post("/v1/ssf/subjects:add", summary="Add a subject to a stream")
def add_subject(outbound: Transmitter, principal: Manager, body: JsonBody) -> Response:
    """SSF 1.0 §8.1.3.2: the stream gets events about this subject."""
    found = _stream(outbound, principal, body.get("stream_id"))
    receivers.set_subject(outbound.store, found["receiver_id"], _subject(body), included=True)
    return Response(status_code=200)


@router.post("/v1/ssf/subjects:remove", status_code=204, summary="Remove a subject")
def remove_subject(outbound: Transmitter, principal: Manager, body: JsonBody) -> Response:
    """SSF 1.0 §8.1.3.3: the stream no longer gets events about this subject."""
    found = _stream(outbound, principal, body.get("stream_id"))
    receivers.set_subject(outbound.store, found["receiver_id"], _subject(body), included=False)
    return Response(status_code=204)


@router.post("/v1/ssf/verify", status_code=204, summary="Ask for a verification event")
def verify(outbound: Transmitter, principal: Manager, body: JsonBody) -> Response:
    """SSF 1.0 §8.1.4.2: a verification SET echoing `state` follows on the stream."""
    found = _stream(outbound, principal, body.get("stream_id"))
    state = body.get("state")
    if state is not None and not isinstance(state, str):
        raise ApiProblem(400, "bad-request", "Bad request", "state: text")
    control.verify(outbound.store, found, state)
    outbound.wake()
    return Response(status_code=204)


@router.post("/v1/ssf/poll/{stream_id}", summary="Poll a stream (RFC 8936)")
def poll(outbound: Transmitter, principal: Manager, stream_id: str, body: JsonBody) -> Response:
    """RFC 8936 §2.4: acknowledge, report errors, and receive the next SETs in order."""
    found = _stream(outbound, principal, stream_id)
    if found["config"]["delivery"]["method"] != POLL:
        raise ApiProblem(400, "bad-request", "Bad request", "this stream is push, not poll")
    try:
        max_events, immediately, acks, errors = parse_poll(body)
    except StreamError as e:
        raise ApiProblem(400, "bad-request", "Bad request", str(e)) from None
    queue.acknowledge(outbound.store, stream_id, acks, errors)
    deadline = time.monotonic() + (0 if immediately else outbound.settings.ssf_poll_wait_s)
    while True:
        messages = _pollable(outbound, found, max_events)
        if messages or max_events == 0 or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    assert outbound.keys is not None
    sets = {m.msg_id: outbound.keys.sign(m.body) for m in messages[:max_events]}
    return OrjsonResponse({"sets": sets, "moreAvailable": len(messages) > max_events})


def _pollable(outbound: Outbound, stream: dict[str, Any], max_events: int) -> list[queue.Message]:
    stream_id = stream["receiver_id"]
    current = receivers.get(outbound.store, stream_id, tenant=stream["tenant"], owner=None)
    if current is None or current["status"] == "paused" or max_events == 0:
        return []
    found = queue.pending(outbound.store, stream_id, limit=max_events + 1)
    if current["status"] == "disabled":
        return [m for m in found if m.position is None]
    return found

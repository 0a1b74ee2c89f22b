"""The inbound strategies: each kind's drawn messages, POSTed through a real sandbox app to a
configured connection, are accepted and leave the ledger as the reference model says; a
tampered signature is refused with 401 and records nothing."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.testing.inbound import KIND_STEPS, InboundMessage, Sender, messages
from ledger.testing.sandbox import Sandbox, open_sandbox
from ledger.testing.story import EPOCH, Start

ACCEPTED = {"wso2": 200, "keycloak": 200, "ssf": 202, "oidc": 200, "saml": 200}


@contextmanager
def sandbox_for(sender: Sender) -> Iterator[Sandbox]:
    """A fresh sandbox (SQLite) serving `sender`'s connection."""
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        toml = folder / "connections.toml"
        toml.write_text(sender.connection(folder))
        url = f"sqlite:///{folder}/ledger.sqlite3"
        with open_sandbox(url, start=EPOCH, connections_file=toml) as sandbox:
            yield sandbox


def post(sandbox: Sandbox, sender: Sender, message: InboundMessage) -> int:
    url = f"/v1/inbound/{sender.name}{message.path}"
    response = sandbox.client.post(url, content=message.body, headers=message.headers)
    status: int = response.status_code
    return status


def swap(text: bytes, index: int) -> bytes:
    """`text` with the base64 or hex character at `index` changed."""
    new = b"B" if text[index : index + 1] == b"A" else b"A"
    if re.fullmatch(rb"(sha256=)?[0-9a-fA-F]{64}", text):  # hex: "a" -> "A" would be no change
        new = b"1" if text[index : index + 1] == b"0" else b"0"
    return text[:index] + new + text[index + 1 :]


def tampered(kind: str, message: InboundMessage) -> InboundMessage:
    """The message with its signature changed (the header, the JWS or the XML signature)."""
    headers, body = dict(message.headers), message.body
    if kind in ("wso2", "keycloak"):
        name = "X-Hub-Signature" if kind == "wso2" else "X-Keycloak-Signature"
        headers[name] = swap(headers[name].encode(), len(headers[name]) - 5).decode()
    elif kind in ("ssf", "oidc"):
        end = body.rfind(b".") + 20  # inside the JWS signature
        body = swap(body, end)
    else:
        start = body.index(b"SignatureValue>") + 30
        body = swap(body, start)
    return InboundMessage(message.step, headers, body, message.path)


@pytest.mark.parametrize("kind", sorted(KIND_STEPS))
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_drawn_messages_are_accepted_and_the_ledger_ends_as_the_model_says(
    kind: str, data: st.DataObject
) -> None:
    sender = Sender.make(kind, name=f"idp-{kind}", tenant="acme")
    with sandbox_for(sender) as sandbox:
        if KIND_STEPS[kind] == ("logout",):  # these IdPs only end sessions: start some
            for n in range(3):
                sandbox.play(
                    Start("acme", f"user-{n % 2}", f"sid-{n}", EPOCH, idle=86_400, max_life=86_400)
                )
        for _ in range(6):
            now = sandbox.clock()
            if kind in ("oidc", "saml") and not any(
                s.active_at(now) for s in sandbox.model.sessions.values()
            ):
                break
            message = data.draw(messages(sender, sandbox.model, now))
            sandbox.expect(message.step)
            status = post(sandbox, sender, message)
            assert status == ACCEPTED[kind], (message.step, status)
        sandbox.check()


@pytest.mark.parametrize("kind", sorted(KIND_STEPS))
@settings(max_examples=1, deadline=None)
@given(data=st.data())
def test_a_tampered_signature_is_refused_and_records_nothing(
    kind: str, data: st.DataObject
) -> None:
    sender = Sender.make(kind, name=f"idp-{kind}")
    with sandbox_for(sender) as sandbox:
        sandbox.play(Start("acme", "user-0", "sid-0", EPOCH, idle=86_400, max_life=86_400))
        message = data.draw(messages(sender, sandbox.model, sandbox.clock()))
        sandbox.clock.now = max(sandbox.clock.now, message.step.at)
        # RFC 8935 §2.4 and Back-Channel Logout §2.8 answer 400; the webhooks and SAML 401
        refused = 400 if kind in ("ssf", "oidc") else 401
        assert post(sandbox, sender, tampered(kind, message)) == refused
        assert post(sandbox, sender, message) == ACCEPTED[kind]  # the untampered one is fine
        message.step.expect(sandbox.model)
        sandbox.check()  # the tampered one recorded nothing: only the real one shows

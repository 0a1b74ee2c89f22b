"""Property: for any sequence of commands, the SETs a receiver ends with are exactly what a
pure function of the log says it should get (its requested events, minus its removed
subjects), each once. The expectation is computed here from the log, independently of
`ledger.outbound.signals`; the run goes through the real outbox process and runner."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.aggregates.errors import LedgerError
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import load_settings
from ledger.outbound import queue, receivers
from ledger.outbound.keys import generate_pem
from ledger.outbound.runtime import open_store
from ledger.outbound.store import SSF, OutboxStorage
from tests.outbound.conftest import log_events, wait_until

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
ALL_EVENTS = [CAEP + "session-established", CAEP + "session-revoked", CAEP + "credential-change",
              RISC + "account-disabled", RISC + "account-purged"]  # fmt: skip
USERS, SIDS = ["u1", "u2"], ["s1", "s2", "s3"]
REASONS = ["logout", "admin_terminated", "user_terminated"]
REVOKES = ["account_locked", "account_disabled", "account_deleted"]

commands = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.sampled_from(USERS), st.sampled_from(SIDS)),
        st.tuples(st.just("end"), st.sampled_from(SIDS), st.sampled_from(REASONS)),
        st.tuples(st.just("end_all"), st.sampled_from(USERS)),
        st.tuples(st.just("reset"), st.sampled_from(USERS), st.sampled_from(["self", "admin"])),
        st.tuples(st.just("revoke"), st.sampled_from(USERS), st.sampled_from(REVOKES)),
    ),
    max_size=14,
)


def run(system: LedgerSystem, command: tuple[Any, ...]) -> None:
    ledger, kind = system.ledger, command[0]
    try:
        if kind == "start":
            ledger.start_session(tenant="acme", user_id=command[1], session_id=command[2])
        elif kind == "end":
            ledger.terminate_session(
                tenant="acme", session_id=command[1], reason=command[2], actor="a"
            )
        elif kind == "end_all":
            ledger.terminate_all(
                tenant="acme", user_id=command[1], reason="admin_terminated", actor="a"
            )
        elif kind == "reset":
            actor = command[1] if command[2] == "self" else "helpdesk"
            ledger.reset_password(tenant="acme", user_id=command[1], actor=actor)
        else:
            ledger.revoke(tenant="acme", user_id=command[1], reason=command[2], actor="idp")
    except LedgerError:
        pass  # refused commands record nothing


def expected(
    system: LedgerSystem, wanted: set[str], removed_user: str | None
) -> list[tuple[Any, ...]]:
    """What the receiver should get: (event type, user, session, reason) in log order."""
    owner: dict[Any, tuple[str, str]] = {}
    found: list[tuple[Any, ...]] = []
    for event, _ in log_events(system):
        kind = type(event).__qualname__
        item: tuple[Any, ...] | None = None
        if kind == "Session.Started":
            owner[event.originator_id] = (event.user_id, event.session_id)
            item = (CAEP + "session-established", event.user_id, event.session_id, None)
        elif kind == "Session.Terminated":
            user, sid = owner[event.originator_id]
            item = (CAEP + "session-revoked", user, sid, event.reason)
        elif kind == "Account.Registered":
            owner[event.originator_id] = (event.user_id, "")
        elif kind == "Account.PasswordReset":
            item = (
                CAEP + "credential-change",
                owner[event.originator_id][0],
                None,
                "password_reset",
            )
        elif kind == "Account.Revoked":
            uri = RISC + (
                "account-purged" if event.reason == "account_deleted" else "account-disabled"
            )
            item = (uri, owner[event.originator_id][0], None, event.reason)
        if item is not None and item[0] in wanted and item[1] != removed_user:
            found.append(item)
    return found


def observed(store: OutboxStorage, stream_id: str) -> list[tuple[Any, ...]]:
    got = []
    messages = queue.pending(store, stream_id, limit=10_000)
    assert len({m.msg_id for m in messages}) == len(messages)  # each SET once
    for m in messages:
        [(uri, event)] = m.body["events"].items()
        session = m.body["sub_id"].get("session")
        got.append((uri, m.body["sub_id"]["user"]["sub"], session["id"] if session else None,
                    event.get("reason_code")))  # fmt: skip
    return got


# Only session-scoped fixtures: the function-scoped-fixture health check stays on.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    cmds=commands,
    wanted=st.sets(st.sampled_from(ALL_EVENTS), min_size=1),
    removed=st.sampled_from([None, "u1"]),
)
def test_a_receiver_gets_what_the_log_says(
    tmp_path_factory: pytest.TempPathFactory,
    cmds: list[Any],
    wanted: set[str],
    removed: str | None,
) -> None:
    folder = tmp_path_factory.mktemp("outbound")  # one per example
    (folder / "key.pem").write_bytes(KEY)
    settings = load_settings(
        database_url=f"sqlite:///{folder}/ledger.sqlite3",
        issuer="https://ledger.example.test", signing_key_file=folder / "key.pem",
        group_commit=False, reaper_interval_s=3600,
    )  # fmt: skip
    system = bootstrap(settings, run_projections=True)
    store, factory = open_store(settings)
    try:
        config = {"iss": "https://ledger.example.test", "aud": "rp", "user_iss": "https://idp",
                  "default_subjects": "ALL", "events_requested": sorted(wanted),
                  "events_delivered": sorted(wanted),
                  "delivery": {"method": "urn:ietf:rfc:8936"}}  # fmt: skip
        receivers.create(store, receiver_id="rp", kind=SSF, tenant="acme", owner="rp",
                         config=config, from_position=0)  # fmt: skip
        if removed:
            subject = {"format": "iss_sub", "iss": "https://idp", "sub": removed}
            receivers.set_subject(store, "rp", subject, included=False)
        for command in cmds:
            run(system, command)
        head = system.ledger.recorder.max_notification_id() or 0
        wait_until(lambda: (store.max_tracking_id("SessionLedger") or 0) >= head)
        assert observed(store, "rp") == expected(system, wanted, removed)
    finally:
        factory.close()
        system.close()


KEY = generate_pem()

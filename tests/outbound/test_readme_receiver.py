"""The README's example receiver (docs/examples/ssf_receiver.py) receives and acts on a SET."""

from __future__ import annotations

import importlib.util
import threading
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest

from ledger.config import Settings
from tests.outbound.conftest import TRANSMITTER
from tests.outbound.test_delivery import end_sessions, push_stream

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "ssf_receiver.py"


def test_the_example_receiver_ends_the_session(
    transmitter: Any, outbound_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("ssf_receiver", EXAMPLE)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    ended: list[tuple[str, str]] = []
    monkeypatch.setattr(example, "end_local_session", lambda user, sid: ended.append((user, sid)))
    jwks = transmitter.get("/.well-known/jwks.json").json()
    verifier = example.Verifier(jwks, issuer=TRANSMITTER, audience="rp-1")
    server = HTTPServer(("127.0.0.1", 0), example.handler(verifier))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        push_stream(transmitter, outbound_settings, f"http://127.0.0.1:{server.server_port}/")
        end_sessions(transmitter, 2)
        from tests.outbound.conftest import wait_until

        wait_until(lambda: len(ended) == 2)
        assert ended == [("alice", "alice-0"), ("alice", "alice-1")]
    finally:
        server.shutdown()
        server.server_close()

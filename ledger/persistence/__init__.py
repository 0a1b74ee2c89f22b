"""How events are stored: backend selection from a URL, the orjson transcoder, the Postgres
append-only guard, start-up checks, and the gate and time-bounded pools that make requests
fail fast while a database is away (`gate.py`, `pools.py`).
Tests: tests/integration/test_recorders.py, tests/faults/test_gate.py.
"""

from ledger.persistence.schema import prepare_database
from ledger.persistence.transcoder import OrjsonTranscoder
from ledger.persistence.url import DatabaseURL

__all__ = ["DatabaseURL", "OrjsonTranscoder", "prepare_database"]

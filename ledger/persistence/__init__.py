"""How events are stored: backend selection from a URL, the orjson transcoder, the Postgres
append-only guard, and start-up checks. Tests: tests/integration/test_recorders.py.
"""

from ledger.persistence.schema import prepare_database
from ledger.persistence.transcoder import OrjsonTranscoder
from ledger.persistence.url import DatabaseURL

__all__ = ["DatabaseURL", "OrjsonTranscoder", "prepare_database"]

"""JSON responses encoded with orjson: times as RFC 3339 UTC strings (`...Z`).

Tests: tests/api/test_me.py (the fields and their format).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


class OrjsonResponse(JSONResponse):
    """A JSON response rendered by orjson."""

    def render(self, content: Any) -> bytes:
        """Encode `content` (datetimes become RFC 3339 UTC strings)."""
        return orjson.dumps(content, option=OPTIONS)

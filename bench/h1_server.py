"""H1's server: the ledger's own app (`create_app`) plus a bare endpoint, under uvicorn.

`GET /bench/bare` answers the bytes of the file `BENCH_BARE_FILE` names (read on first use
by each worker; bench/http.py writes there what the real endpoint answered) without auth or
database, through the same middleware and the same thread
pool as the real handlers, so the difference between the two is the ledger's work.
Configured by `LEDGER_*` variables like `ledger serve`, and served with the same uvicorn
options (`SERVER_OPTIONS`: httptools, uvloop, an access log line per request on stdout, which
bench/http.py sends to /dev/null).
Run: `python -m bench.h1_server PORT [WORKERS]` (127.0.0.1 only; WORKERS defaults to 1).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response

from ledger.api.app import create_app
from ledger.api.serve import SERVER_OPTIONS
from ledger.config import load_settings


def make_app() -> FastAPI:
    """The ledger's app with the bare endpoint beside it."""
    app = create_app(load_settings())
    payload: dict[str, bytes] = {}

    @app.get("/bench/bare", include_in_schema=False)
    def bare() -> Response:
        body = payload.get("body")
        if body is None:
            named = os.environ.get("BENCH_BARE_FILE")
            body = payload["body"] = Path(named).read_bytes() if named else b"{}"
        return Response(content=body, media_type="application/json")

    return app


def main(port: int, workers: int = 1) -> None:
    """Serve on 127.0.0.1:`port` with `workers` processes until terminated."""
    uvicorn.run(
        "bench.h1_server:make_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        **SERVER_OPTIONS,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1)

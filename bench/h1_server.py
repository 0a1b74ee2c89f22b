"""H1's server: the ledger's own app (`create_app`) plus a bare endpoint, under uvicorn.

`GET /bench/bare` answers the bytes last given to `PUT /bench/bare` without auth or database,
through the same middleware and the same thread pool as the real handlers, so the difference
between the two is the ledger's work. Configured by `LEDGER_*` variables like `ledger serve`,
and served with the same uvicorn options (`SERVER_OPTIONS`: httptools, uvloop, an access log
line per request on stdout, which bench/http.py sends to /dev/null).
Run: `python -m bench.h1_server PORT` (127.0.0.1 only).
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import Request, Response

from ledger.api.app import create_app
from ledger.api.serve import SERVER_OPTIONS
from ledger.config import load_settings


def main(port: int) -> None:
    """Serve on 127.0.0.1:`port` with one worker until terminated."""
    app = create_app(load_settings())
    payload = {"body": b"{}"}

    @app.put("/bench/bare", include_in_schema=False)
    async def set_bare(request: Request) -> Response:
        payload["body"] = await request.body()
        return Response(status_code=204)

    @app.get("/bench/bare", include_in_schema=False)
    def bare() -> Response:
        return Response(content=payload["body"], media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, **SERVER_OPTIONS)


if __name__ == "__main__":
    main(int(sys.argv[1]))

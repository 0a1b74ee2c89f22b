"""The HTTP API (v1): routers per audience over `SessionLedger` and the views.

`ledger.api.app.create_app` builds the FastAPI application; `ledger serve` runs it.
Tests: tests/api/.
"""

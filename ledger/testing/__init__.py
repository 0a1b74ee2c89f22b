"""The Session Ledger's testing kit, for the people who build on the ledger.

* `ledger.testing.model`: the reference model, a pure-Python oracle of what the ledger answers;
* `ledger.testing.story`: the steps of a story (plain data) and how each reaches the ledger;
* `ledger.testing.strategies`: hypothesis strategies for ids, users, tenants and whole stories;
* `ledger.testing.checks`: a story played on the ledger next to the model, and comparisons;
* `ledger.testing.sandbox`: a throw-away ledger with an HTTP client and a token minter;
* `ledger.testing.machine`: `LedgerStateMachine`, to subclass for your own integration;
* `ledger.testing.plugin`: the pytest fixtures (registered through the `pytest11` entry point).
Install with `pip install session-ledger[testing]` (brings hypothesis). This package imports
nothing at import time; README ("Testing your integration") has an example.
Tests: tests/testing_kit/.
"""

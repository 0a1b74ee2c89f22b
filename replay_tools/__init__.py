"""`ledger-replay`: the auditors' tools, answering from the event log alone (never the views).

History at a moment, timelines, exports, view rebuild and verification, tamper seals.
Depends on `ledger` (never on `ledger.api`). Tests: tests/replay/.
"""

"""Inbound adapters: identity providers' messages in, ledger commands out.

Every adapter does the same three steps (`seam.receive`): verify the sender, drop what was
already seen (by the sender's event id, `ledger.persistence.seen_store`), and map to the
commands of `commands.py`, which call `SessionLedger`; the domain never sees the foreign
format. Tests: tests/inbound/.
"""

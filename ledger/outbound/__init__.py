"""Outbound: the ledger as an OpenID Shared Signals transmitter and a Standard Webhooks sender.

`outbox` decides what each receiver gets (a process of the projection registry), `delivery`
sends it, `runtime.build_deliverers` builds what a process runs. Tests: tests/outbound/.
"""

"""Enforcement at identity providers as outbound receivers: one per connection with an
`enforce` table, kept in step with the connections file, and the sending of their messages.

`sync` makes the store's receivers match the file: a receiver `connection:<name>` (kind
`wso2` or `keycloak`, the connection's tenant, its target's public config) is created with the
log's head as its start (it gets the terminations recorded from then on), updated when the
file changed, and removed when the file no longer names it. The outbox process then decides
its messages like any receiver's (`ledger.outbound.enforcement`), and the delivery worker
sends them through `Enforcer.send`: a client-credentials token per connection
(`ledger.outbound.tokens`), the call of `IdpTarget.call`, the answer read by
`ledger.outbound.send.end_at_idp`. Such a receiver is never disabled by failures: an IdP
down for a day gets every termination once it is back. Tests: tests/enforcement/.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ledger.outbound import receivers
from ledger.outbound.idp import IdpTarget
from ledger.outbound.send import RETRY, Outcome, end_at_idp
from ledger.outbound.store import IDP_KINDS, OutboxStorage
from ledger.outbound.tokens import ClientCredentials

OWNER = ""  # no token has an empty `sub`: these receivers belong to the configuration


def sync(store: OutboxStorage, targets: Mapping[str, IdpTarget], *, head: int, prune: bool) -> None:
    """Make the IdP receivers match `targets` (with `prune`, remove the ones not there)."""
    existing = {
        r["receiver_id"]: r
        for r in receivers.find(store, tenant=None, owner=None, kind=None)
        if r["kind"] in IDP_KINDS
    }
    for target in targets.values():
        found = existing.pop(target.receiver_id, None)
        wanted = (target.kind, target.tenant, target.public(), "enabled")
        if found is None:
            receivers.ensure(
                store, receiver_id=target.receiver_id, kind=target.kind, tenant=target.tenant,
                owner=OWNER, config=target.public(), from_position=head,
            )  # fmt: skip
        elif (found["kind"], found["tenant"], found["config"], found["status"]) != wanted:
            receivers.reconfigure(
                store, target.receiver_id, kind=target.kind, tenant=target.tenant,
                config=target.public(),
            )  # fmt: skip
    if prune:
        for receiver_id in existing:
            receivers.delete(store, receiver_id)


class Enforcer:
    """Sends IdP receivers' messages: one token cache per connection, built when first used."""

    def __init__(
        self,
        targets: Mapping[str, IdpTarget],
        client: httpx.Client,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.targets, self.client, self.clock = dict(targets), client, clock
        self.tokens: dict[str, ClientCredentials] = {}

    def send(self, receiver: dict[str, Any], body: dict[str, Any]) -> Outcome:
        """End at the receiver's IdP what the message says."""
        name = receiver["config"].get("connection", "")
        target = self.targets.get(name)
        if target is None or target.receiver_id != receiver["receiver_id"]:
            return Outcome(RETRY, f"connection {name!r} has no `enforce` table in this process")
        method, url = target.call(body)
        return end_at_idp(self.client, method=method, url=url, tokens=self._tokens(target))

    def _tokens(self, target: IdpTarget) -> ClientCredentials:
        tokens = self.tokens.get(target.connection)
        if tokens is None:
            tokens = ClientCredentials(
                self.client, token_url=target.token_url, client_id=target.client_id,
                client_secret=target.client_secret, scope=target.scope, clock=self.clock,
            )  # fmt: skip
            self.tokens[target.connection] = tokens
        return tokens

"""`verify-seals`: walk the seal chain and compare every sealed event with the log as it is now.

Checks, per seal: its hash matches its content, it links to the previous seal (hash, number,
range). Then, per sealed event: still at its position with the same content (else `edited`),
still present elsewhere (`reordered`, naming the new position), or gone (`deleted`); and
every row found inside a sealed range that no seal lists is `inserted`. One seal's events
are in memory at a time. An auditor who kept a seal's hash can pass it as `--head` to detect
a chain rewritten from scratch. Tests: tests/replay/test_seals.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from ledger.log_store import EventRow, LogStore
from ledger.seals import GENESIS, Seal, SealEntry, entry_of, seal_list


@dataclass(frozen=True)
class Finding:
    """One discrepancy between the seals and the log."""

    kind: str  # edited, deleted, reordered, inserted, seal-altered, chain-broken, head-missing
    seal: int | None
    position: int | None
    aggregate_id: UUID | None
    version: int | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return dict(self.__dict__)


@dataclass
class SealReport:
    """What `verify-seals` found."""

    seals: int = 0
    sealed_events: int = 0
    unsealed_events: int = 0
    head_hash: str | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings


def verify_seals(
    store: LogStore, *, head: str | None = None, progress: Callable[[int], None] | None = None
) -> SealReport:
    """Check the chain and every sealed event; `head` is a seal hash the auditor recorded."""
    report = SealReport()
    previous: Seal | None = None
    moved_to: set[int] = set()
    inserted: list[Finding] = []
    for current in seal_list(store):
        report.findings += _check_link(current, previous)
        entries = current.entry_list()
        rows = store.event_page(current.after, current.upto, limit=2**62)
        replaced: set[int] = set()
        report.findings += _check_events(store, current.seq, entries, rows, (moved_to, replaced))
        inserted += _inserted(current.seq, entries, [r for r in rows if r.position not in replaced])
        report.seals, report.sealed_events = report.seals + 1, report.sealed_events + len(entries)
        report.head_hash, previous = current.hash, current
        if progress is not None:
            progress(len(entries))
    report.findings += [f for f in inserted if f.position not in moved_to]
    report.unsealed_events = sum(1 for _ in store.event_rows(previous.upto if previous else 0))
    if head is not None and not _chain_has(store, head):
        detail = f"no seal has hash {head}: seals were removed or the chain was rewritten"
        report.findings.append(Finding("head-missing", None, None, None, None, detail))
    return report


def _chain_has(store: LogStore, wanted: str) -> bool:
    return any(s.hash == wanted.strip().lower() for s in seal_list(store))


def _check_link(current: Seal, previous: Seal | None) -> list[Finding]:
    found = []
    if current.expected_hash() != current.hash or len(current.entries) != current.count * 64:
        detail = f"seal {current.seq} was altered: its hash does not match its content"
        found.append(Finding("seal-altered", current.seq, None, None, None, detail))
    seq, upto, prev = (previous.seq, previous.upto, previous.hash) if previous else (0, 0, GENESIS)
    if (current.seq, current.after, current.prev_hash) != (seq + 1, upto, prev):
        detail = (
            f"seal {current.seq} does not follow seal {seq}: expected number {seq + 1},"
            f" range after {upto} and the previous hash; a seal is missing or was replaced"
        )
        found.append(Finding("chain-broken", current.seq, None, None, None, detail))
    return found


def _check_events(
    store: LogStore,
    seq: int,
    entries: list[SealEntry],
    rows: list[EventRow],
    noted: tuple[set[int], set[int]],
) -> Iterator[Finding]:
    """Findings about sealed events; notes where moved events went and rows rewritten."""
    moved_to, replaced = noted
    at = {row.position: row for row in rows}
    for entry in entries:
        row = at.get(entry.position)
        if row is not None and (row.aggregate_id, row.version) == entry[1:3]:
            if entry_of(row).digest != entry.digest:
                yield _finding("edited", seq, entry, "its content differs from the seal")
            continue
        now = store.locate(entry.aggregate_id, entry.version)
        if now is not None:
            moved_to.add(now.position)
            changed = " and its content changed" if entry_of(now).digest != entry.digest else ""
            yield _finding("reordered", seq, entry, f"moved to position {now.position}{changed}")
        elif row is not None:
            replaced.add(row.position)
            other = f"{row.aggregate_id} v{row.version}"
            yield _finding("edited", seq, entry, f"its row now holds {other} instead")
        else:
            yield _finding("deleted", seq, entry, "it is no longer in the log")


def _inserted(seq: int, entries: list[SealEntry], rows: list[EventRow]) -> Iterator[Finding]:
    """Rows in the sealed range holding no event of this seal (moves between seals are
    filtered out later)."""
    sealed_events = {(e.aggregate_id, e.version) for e in entries}
    for row in rows:
        if (row.aggregate_id, row.version) in sealed_events:
            continue
        yield Finding(
            "inserted",
            seq,
            row.position,
            row.aggregate_id,
            row.version,
            f"not in seal {seq}, which covers this position",
        )


def _finding(kind: str, seq: int, entry: SealEntry, detail: str) -> Finding:
    return Finding(kind, seq, entry.position, entry.aggregate_id, entry.version, detail)

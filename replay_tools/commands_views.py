"""Commands that check or repair: `rebuild`, `verify`, `seal`, `verify-seals`.

Tests: tests/replay/test_verify.py, tests/replay/test_seals.py, tests/replay/test_cli.py.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer

from ledger.log_store import LogStore
from ledger.persistence.url import DatabaseURL
from ledger.projections.registry import specs
from ledger.seals import Seal, seal_list
from ledger.seals import seal as seal_log
from replay_tools.app import EXIT_DISCREPANCY, Json, app, configured, fail
from replay_tools.log import decode
from replay_tools.output import print_json, print_table, progress_bar, say
from replay_tools.seal_check import Finding, SealReport, verify_seals
from replay_tools.verify import ViewReport, verify_view

VIEWS = specs("view")

Projection = Annotated[
    str | None,
    typer.Option(help=f"One view only: {', '.join(VIEWS)} (default: every view)."),
]


def _names(projection: str | None) -> list[str]:
    if projection is None:
        return list(VIEWS)
    if projection not in VIEWS:
        raise fail(f"--projection: unknown view {projection!r}; one of {', '.join(VIEWS)}")
    return [projection]


@app.command()
def rebuild(projection: Projection = None, json: Json = False) -> None:
    """Rebuild views from position 0 and swap them in for the live ones."""
    from ledger.projections.rebuild import rebuild as rebuild_view  # noqa: PLC0415

    results, names = [], _names(projection)
    with configured() as settings:
        head = _head(settings.events_url)
        for name in names:
            with progress_bar(f"rebuilding {name}", head) as advance:
                results.append(rebuild_view(name, settings, progress=advance))
    if json:
        print_json({"rebuilt": [r.__dict__ for r in results]})
        return
    rows = [(r.name, r.events, r.position, f"{r.seconds:.1f}", r.swapped) for r in results]
    print_table("Rebuilt views", ["view", "events", "position", "seconds", "swapped"], rows)


def _head(url: DatabaseURL) -> int:
    with LogStore.open(url) as store:
        return store.head()


@app.command()
def verify(projection: Projection = None, json: Json = False) -> None:
    """Rebuild views into scratch tables from the log and diff them with the live ones."""
    reports: list[ViewReport] = []
    names = _names(projection)
    with configured() as settings:
        for name in names:
            with progress_bar(f"verifying {name}", _head(settings.events_url)) as advance:
                reports.append(verify_view(name, settings, progress=advance))
    differences = [d for r in reports for d in r.differences]
    if json:
        print_json({"ok": not differences, "views": [r.as_dict() for r in reports]})
    else:
        rows = [(d.view, d.table, d.kind, d.key, d.detail) for d in differences]
        if rows:
            print_table("Differences", ["view", "table", "kind", "key", "detail"], rows)
        for r in reports:
            lag = f", {r.head - r.position} events behind the log" if r.head > r.position else ""
            state = f"{len(r.differences)} difference(s)" if r.differences else "identical"
            say(f"{r.view}: {state} at position {r.position} ({r.rows} live rows{lag})")
    if differences:
        raise typer.Exit(EXIT_DISCREPANCY)


@app.command()
def seal(json: Json = False) -> None:
    """Seal every event recorded since the last seal (a link in the hash chain)."""
    with configured() as settings, LogStore.open(settings.events_url) as store:
        last = next(seal_list(store, last_only=True), None) if store.has_events else None
        with progress_bar("sealing", store.head() - (last.upto if last else 0)) as advance:
            made = seal_log(store, progress=advance)
        head = next(seal_list(store, last_only=True), None)
    if json:
        print_json({"sealed": [_seal_dict(s) for s in made], "head": _seal_dict(head)})
        return
    if made:
        rows = [(s.seq, f"{s.after + 1}..{s.upto}", s.count, s.sealed_at, s.hash) for s in made]
        print_table("New seals", ["seal", "positions", "events", "sealed at", "hash"], rows)
    else:
        say("nothing new to seal")
    if head is not None:
        say(f"chain head: seal {head.seq} {head.hash} (keep it elsewhere: verify-seals --head)")


def _seal_dict(s: Seal | None) -> dict[str, object] | None:
    if s is None:
        return None
    return {
        "seal": s.seq,
        "after": s.after,
        "upto": s.upto,
        "events": s.count,
        "sealed_at": s.sealed_at,
        "prev_hash": s.prev_hash,
        "hash": s.hash,
    }


@app.command("verify-seals")
def verify_seals_command(
    head: Annotated[
        str | None,
        typer.Option(help="A seal hash recorded earlier: fail if it is not in the chain."),
    ] = None,
    json: Json = False,
) -> None:
    """Check the hash chain and every sealed event against the log; name each change."""
    with configured() as settings, LogStore.open(settings.events_url) as store:
        with progress_bar("verifying seals", store.head()) as advance:
            report = verify_seals(store, head=head, progress=advance)
        labels = {f.aggregate_id: _label(store, f.aggregate_id) for f in report.findings}
    _show_seal_report(report, labels, json=json)
    if not report.ok:
        raise typer.Exit(EXIT_DISCREPANCY)


def _label(store: LogStore, aggregate_id: UUID | None) -> str:
    """What an aggregate is, from its first event if it is still there."""
    if aggregate_id is None:
        return ""
    first = store.aggregate_rows([aggregate_id], version=1)
    if not first:
        return f"aggregate {aggregate_id}"
    data = decode(first[0]).data
    if "session_id" in data:
        return f"session {data['session_id']} of {data.get('user_id')} (tenant {data['tenant']})"
    return f"account {data.get('user_id')} (tenant {data.get('tenant')})"


def _show_seal_report(report: SealReport, labels: dict[UUID | None, str], *, json: bool) -> None:
    def named(f: Finding) -> str:
        return f"{labels.get(f.aggregate_id, '')} version {f.version}" if f.aggregate_id else ""

    if json:
        findings = [{**f.as_dict(), "event": named(f)} for f in report.findings]
        summary = {k: v for k, v in report.__dict__.items() if k != "findings"}
        print_json({"ok": report.ok, **summary, "findings": findings})
        return
    if report.findings:
        rows = [(f.kind, f.seal, f.position, named(f), f.detail) for f in report.findings]
        print_table("Tampering found", ["change", "seal", "position", "event", "detail"], rows)
    say(
        f"{report.seals} seal(s) over {report.sealed_events} events: "
        f"{'intact' if report.ok else f'{len(report.findings)} finding(s)'}; "
        f"{report.unsealed_events} later event(s) not sealed yet"
    )

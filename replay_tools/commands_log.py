"""Commands that answer from the event log: `history`, `timeline`, `export`.

Tests: tests/replay/test_cli.py, tests/replay/test_export.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer

from replay_tools.app import Json, Since, Tenant, Until, User, app, configured, fail, time_value
from replay_tools.export import ExportFilter, records, write_csv, write_jsonl
from replay_tools.history import sessions_open_at
from replay_tools.log import open_log, user_events
from replay_tools.output import position_bar, print_json, print_table, say
from replay_tools.timeline import timeline as timeline_of
from replay_tools.times import format_time

Writer = Callable[[Iterable[dict[str, Any]], BinaryIO], int]


class Format(StrEnum):
    """Export formats."""

    jsonl = "jsonl"
    csv = "csv"


@app.command()
def history(
    user: User,
    at: Annotated[
        datetime,
        typer.Option(parser=time_value, metavar="TIME", help="The moment (RFC 3339)."),
    ],
    tenant: Tenant = "default",
    json: Json = False,
) -> None:
    """The user's sessions that were open at a moment, as they stood then."""
    with configured() as settings, open_log(settings) as store:
        found = sessions_open_at(user_events(store, tenant, user), at)
    if json:
        sessions = [r.as_dict() for r in found]
        print_json({"tenant": tenant, "user_id": user, "at": at, "sessions": sessions})
        return
    rows = [
        (r.id, r.started_at, r.last_active_at, r.expires_at, r.ip, r.applications, r.user_agent)
        for r in found
    ]
    title = f"Sessions of {user} (tenant {tenant}) open at {format_time(at)}: {len(rows)}"
    columns = ["session", "started", "last active", "expires", "ip", "applications", "agent"]
    print_table(title, columns, rows)


@app.command()
def timeline(
    user: User,
    tenant: Tenant = "default",
    since: Since = None,
    until: Until = None,
    json: Json = False,
) -> None:
    """Every event of the user's sessions and account, in log order."""
    with configured() as settings, open_log(settings) as store:
        entries = timeline_of(user_events(store, tenant, user), since=since, until=until)
    if json:
        print_json({"tenant": tenant, "user_id": user, "events": [e.as_dict() for e in entries]})
        return
    rows = [
        (e.position, e.time, e.session_id, e.event, e.reason, e.actor, e.cause, e.details)
        for e in entries
    ]
    columns = ["#", "time", "session", "event", "reason", "actor", "cause", "details"]
    print_table(f"Timeline of {user} (tenant {tenant}): {len(rows)} events", columns, rows)


@app.command()
def export(
    *,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.jsonl,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file (else stdout).")
    ] = None,
    since: Since = None,
    until: Until = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events.")] = None,
    after: Annotated[
        int, typer.Option(min=0, help="Only events after this log position (incremental pulls).")
    ] = 0,
) -> None:
    """Every event (or those selected) for a SIEM or an auditor, streamed."""
    which = ExportFilter(since=since, until=until, tenant=tenant, after=after)
    writer: Writer = write_jsonl if fmt is Format.jsonl else write_csv
    partial = out.with_name(out.name + ".partial") if out is not None else None
    with configured() as settings, open_log(settings) as store:
        head = store.head()
        on_screen = out is None and sys.stdout.isatty()  # the bar would mix with the data
        with position_bar("exporting", after, head, quiet=on_screen) as reached:
            found = records(store, which, head=head, progress=reached)
            count = _write(writer, found, partial)
    if out is not None and partial is not None:
        os.replace(partial, out)
    say(f"exported {count} events (log positions {after + 1}..{head})")


def _write(writer: Writer, found: Iterable[dict[str, Any]], partial: Path | None) -> int:
    """Run `writer` into the partial file (renamed on success) or stdout."""
    if partial is None:
        count = writer(found, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return count
    try:
        with partial.open("wb") as sink:
            count = writer(found, sink)
    except OSError as e:
        raise fail(f"--out: cannot write {partial}: {e.strerror}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count

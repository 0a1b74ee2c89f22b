"""`verify`: rebuild each view from the log into scratch tables and diff it with the live one.

The live view may advance while this runs. So the live view is read in one snapshot (one
transaction; REPEATABLE READ on PostgreSQL, a WAL read transaction on SQLite) whose tracking
position P fixes the moment compared; the scratch view, written only by this command, is
caught up to exactly P before it is read. Rows of both are streamed in key order and
compared session by session (tables are keyed first by `session_key`), every column, so
memory does not grow with the view. Tests: tests/replay/test_verify.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment

from ledger.config import Settings
from ledger.names import tracking_table
from ledger.persistence.schema import prepare_database
from ledger.projections.deltas import SESSION_TOPICS, from_us
from ledger.projections.feed import open_feed
from ledger.projections.rebuild import catch_up
from ledger.projections.registry import PROJECTIONS, view_env
from replay_tools.snapshot import Snapshot
from replay_tools.times import format_time

VERIFY_PREFIX = "verify_"
Row = tuple[Any, ...]


@dataclass(frozen=True)
class Difference:
    """One row where the live view and the view rebuilt from the log disagree."""

    view: str
    table: str
    key: str
    kind: str  # missing (only rebuilt), unexpected (only live), changed
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return dict(self.__dict__)


@dataclass
class ViewReport:
    """The comparison of one view."""

    view: str
    position: int
    head: int
    rows: int = 0
    differences: list[Difference] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "view": self.view,
            "position": self.position,
            "head": self.head,
            "rows": self.rows,
            "differences": [d.as_dict() for d in self.differences],
        }


def verify_view(
    name: str, settings: Settings, *, progress: Callable[[int], None] | None = None
) -> ViewReport:
    """Rebuild `name` into scratch tables, compare with the live view at one position."""
    app = _log_reader(settings)
    scratch, factory = _open_scratch(name, settings)
    url, setting = settings.views_url, _views_setting(settings)
    tracking = scratch.qualify(tracking_table(name))  # the live view's tracking table
    where_live = f"SELECT MAX(notification_id) FROM {tracking}"
    try:
        scratch.drop_tables()
        scratch.create_table()
        with Snapshot.open(url, setting=setting) as now:
            start = now.scalar(where_live) or 0
        catch_up(name, scratch, app, until=start, progress=progress)  # the bulk, unhurried
        with Snapshot.open(url, setting=setting) as seen:
            position = seen.scalar(where_live) or 0
            catch_up(name, scratch, app, until=position, progress=progress)  # the last steps
            report = ViewReport(name, position, app.recorder.max_notification_id() or 0)
            with Snapshot.open(url, setting=setting) as built:
                for table in scratch.view_tables():
                    live, rebuilt = scratch.qualify(table), scratch.t(table)
                    compare_table(report, table, (seen, live), (built, rebuilt))
    finally:
        scratch.drop_tables()
        factory.close()
        app.close()
    return report


def _views_setting(settings: Settings) -> str:
    return "LEDGER_VIEWS_DATABASE_URL" if settings.views_database_url else "LEDGER_DATABASE_URL"


def _log_reader(settings: Settings) -> Any:
    """The log as the views read it, on one connection."""
    prepare_database(settings.events_url)
    return open_feed(settings.events_url.library_env(pool_size=1, max_overflow=0), SESSION_TOPICS)


def _open_scratch(name: str, settings: Settings) -> tuple[Any, Any]:
    """The scratch view (as `ledger.projections.registry.open_view` makes, on one connection)."""
    values = view_env(name, settings.events_url, settings.views_url)
    for key in [k for k in values if k.endswith(("POOL_SIZE", "MAX_OVERFLOW"))]:
        values[key] = "1"
    factory = InfrastructureFactory.construct(env=Environment(name, values))
    view_class = PROJECTIONS[name].view_class(settings.views_url)
    view = view_class(factory.datastore, prefix=VERIFY_PREFIX)  # type: ignore[attr-defined]
    view.create_table()
    return view, factory


def compare_table(
    report: ViewReport, table: str, live: tuple[Snapshot, str], built: tuple[Snapshot, str]
) -> None:
    """Stream both tables in key order and record every difference in `report`."""
    key = live[0].primary_key(live[1])
    live_cols, live_rows = live[0].rows(live[1], key)
    built_cols, built_rows = built[0].rows(built[1], key)
    if live_cols != built_cols:
        detail = f"live columns {live_cols}, rebuilt columns {built_cols}"
        report.differences.append(Difference(report.view, table, "", "schema", detail))
        return
    index = [live_cols.index(c) for c in key]
    for live_group, built_group in _merge(live_rows, built_rows, first=index[0]):
        report.rows += len(live_group)
        for found in _pair(live_group, built_group, index):
            report.differences.append(_difference(report, table, live_cols, index, found))


def _merge(
    live: Iterator[Row], built: Iterator[Row], *, first: int
) -> Iterator[tuple[list[Row], list[Row]]]:
    """Pairs of same-session groups (one side empty when only the other has the session)."""
    a_groups = ((k, list(g)) for k, g in groupby(live, key=lambda r: r[first]))
    b_groups = ((k, list(g)) for k, g in groupby(built, key=lambda r: r[first]))
    a, b = next(a_groups, None), next(b_groups, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            yield a[1], []
            a = next(a_groups, None)
        elif a is None or b[0] < a[0]:
            yield [], b[1]
            b = next(b_groups, None)
        else:
            yield a[1], b[1]
            a, b = next(a_groups, None), next(b_groups, None)


def _pair(live: list[Row], built: list[Row], index: list[int]) -> Iterator[tuple[str, Row, Row]]:
    by_key_live = {tuple(r[i] for i in index): r for r in live}
    by_key_built = {tuple(r[i] for i in index): r for r in built}
    for k in sorted(by_key_live.keys() | by_key_built.keys(), key=repr):
        a, b = by_key_live.get(k), by_key_built.get(k)
        if a is None:
            assert b is not None
            yield "missing", b, b
        elif b is None:
            yield "unexpected", a, a
        elif a != b:
            yield "changed", a, b


def _difference(
    report: ViewReport,
    table: str,
    columns: list[str],
    index: list[int],
    found: tuple[str, Row, Row],
) -> Difference:
    view, (kind, a, b) = report.view, found
    key = ", ".join(f"{columns[i]}={a[i]}" for i in index)
    if kind == "missing":
        return Difference(view, table, key, kind, "in the view rebuilt from the log, not live")
    if kind == "unexpected":
        return Difference(view, table, key, kind, "in the live view, not in the rebuilt one")
    changes = [
        f"{c}: live {_show(c, x)}, rebuilt {_show(c, y)}"
        for c, x, y in zip(columns, a, b, strict=True)
        if x != y
    ]
    return Difference(view, table, key, kind, "; ".join(changes))


def _show(column: str, value: Any) -> str:
    if column.endswith("_at") and isinstance(value, int):
        return format_time(from_us(value))
    return repr(value)

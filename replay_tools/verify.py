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

from ledger.config import Settings
from ledger.projections.deltas import from_us
from ledger.projections.rebuild import catch_up, open_events
from ledger.projections.runner import APP_NAME
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
    from ledger.bootstrap import open_view  # noqa: PLC0415 - heavy, and only for this command

    app = open_events(settings)
    live: Any
    scratch: Any
    live, live_factory = open_view(name, settings)
    scratch, scratch_factory = open_view(name, settings, prefix=VERIFY_PREFIX)
    try:
        scratch.drop_tables()
        scratch.create_table()
        start = live.max_tracking_id(APP_NAME) or 0
        catch_up(name, scratch, app, until=start, progress=progress)
        setting = (
            "LEDGER_VIEWS_DATABASE_URL" if settings.views_database_url else "LEDGER_DATABASE_URL"
        )
        with Snapshot.open(settings.views_url, setting=setting) as seen:
            tracking = live.t(f"{name}_tracking")
            position = seen.scalar(f"SELECT MAX(notification_id) FROM {tracking}")  # noqa: S608
            catch_up(name, scratch, app, until=position or 0, progress=progress)
            report = ViewReport(name, position or 0, app.recorder.max_notification_id() or 0)
            with Snapshot.open(settings.views_url, setting=setting) as built:
                for table in live.view_tables():
                    compare_table(report, table, (seen, live.t(table)), (built, scratch.t(table)))
    finally:
        scratch.drop_tables()
        for closing in (scratch_factory, live_factory, app):
            closing.close()
    return report


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

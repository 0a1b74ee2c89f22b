"""How answers are shown: rich tables for people, JSON for machines, progress bars on stderr.

Tables and bars use rich; bars appear only when stderr is a terminal, so pipes and CI logs
stay clean. JSON times are RFC 3339 UTC with `Z`. Tests: tests/replay/test_cli.py.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from replay_tools.times import format_time

WIDE = 200  # table width when stdout is not a terminal (files, pipes)


def stdout_console() -> Console:
    """A console on stdout; wide and without colour when it is not a terminal."""
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        console = Console(width=WIDE, no_color=True, soft_wrap=False)
    return console


def print_json(data: Any) -> None:
    """`data` as indented JSON on stdout."""
    option = orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
    sys.stdout.buffer.write(orjson.dumps(data, option=option) + b"\n")
    sys.stdout.flush()


def cell(value: Any) -> str:
    """A value as table text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("name") or value.get("id") or value)
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table with a title on stdout (just the title and "(none)" when there are no rows)."""
    if not rows:
        stdout_console().print(f"{title}\n(none)", highlight=False)
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    stdout_console().print(table)


def say(message: str) -> None:
    """One line for the person at the terminal (stderr, so stdout stays data)."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(message)


@contextmanager
def progress_bar(
    description: str, total: int | None, *, quiet: bool = False
) -> Iterator[Callable[[int], None]]:
    """A bar on stderr (only when it is a terminal, and not `quiet`); yields `advance(n)`."""
    console = Console(stderr=True, quiet=quiet)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(
        *columns, console=console, disable=not console.is_terminal, transient=True
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


@contextmanager
def position_bar(
    description: str, start: int, head: int, *, quiet: bool = False
) -> Iterator[Callable[[int], None]]:
    """A bar over log positions (start, head]; yields `reached(position)`."""
    with progress_bar(description, max(head - start, 0), quiet=quiet) as advance:
        done = start

        def reached(position: int) -> None:
            nonlocal done
            advance(position - done)
            done = position

        yield reached

"""The positions this process's view writers have committed, so a command's wait needs no query.

A view writer (`SessionView.apply`) posts the tracking position it has just committed under
the view's location (its database, schema and tracking table); `wait_for` reads the board
first and sleeps on its condition, so a command whose views run in this process waits without
a round trip to the database. When another process runs a view (its lock is held elsewhere)
the board never advances for it and `wait_for` falls back to asking the tracking table.
Tests: tests/integration/test_projection_runner.py.
"""

from __future__ import annotations

import threading
import time

_board: dict[str, int] = {}
_changed = threading.Condition()


def post(where: str, position: int) -> None:
    """A writer committed `position` for the view at `where`."""
    with _changed:
        if position > _board.get(where, 0):
            _board[where] = position
            _changed.notify_all()


def known(where: str) -> bool:
    """True when a writer of `where` has posted in this process (the view runs here)."""
    return where in _board


def reached(where: str, position: int) -> bool:
    """True when this process's writer of `where` has committed `position` (or later)."""
    return _board.get(where, 0) >= position


def wait(wheres: list[str], position: int, timeout: float) -> bool:
    """Wait up to `timeout` until every view in `wheres` has reached `position` here."""
    deadline = time.monotonic() + timeout
    with _changed:
        while not all(_board.get(w, 0) >= position for w in wheres):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            _changed.wait(remaining)
    return True

"""Entry point of the `ledger-replay` console script (see `replay_tools.app`).

Importing the command modules registers their commands on the one Typer app.
Tests: tests/replay/test_cli.py, tests/replay/test_check.py.
"""

from __future__ import annotations

from replay_tools import commands_check, commands_log, commands_views
from replay_tools.app import app

__all__ = ["app", "commands_check", "commands_log", "commands_views", "main"]


def main() -> None:
    """Run `ledger-replay`."""
    app()

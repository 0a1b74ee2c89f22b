"""The `check` command: the reference model's invariants over the event log.

Exit 0 when the log keeps every invariant, 1 when any violation is found (each printed with
its log positions), 2 when the database cannot be read. Tests: tests/replay/test_check.py.
"""

from __future__ import annotations

import typer

from replay_tools.app import EXIT_DISCREPANCY, Json, app, configured
from replay_tools.check import KINDS, check_log
from replay_tools.log import open_log
from replay_tools.output import print_json, print_table, say


@app.command()
def check(json: Json = False) -> None:
    """Check the log against the ledger's invariants (no session active after its termination,
    no activity after an end, resets end every session, expiries at the rules' moment, every
    termination with a reason and an actor, versions without gaps)."""
    with configured() as settings, open_log(settings) as store:
        report = check_log(store)
    if json:
        print_json(report.as_dict())
    else:
        rows = [(", ".join(map(str, v.positions)), v.kind, v.subject, v.detail)
                for v in report.violations]  # fmt: skip
        title = f"Violations up to log position {report.head}: {len(rows)}"
        print_table(title, ["positions", "kind", "subject", "detail"], rows)
        say(
            f"checked {report.events} events of {report.aggregates} aggregates against"
            f" {len(KINDS)} invariants: {len(rows)} violations"
        )
    if report.violations:
        raise typer.Exit(EXIT_DISCREPANCY)

"""The kit's pytest plugin: registered by the `pytest11` entry point, light, and usable.

A fresh pytest process (the plugin loaded from the installed entry point, nothing of this
suite's conftest) gets a sandbox ledger, an HTTP client and tokens from the fixtures; importing
the plugin loads neither hypothesis nor the ledger; its fixtures clash with none of ours.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from ledger.testing import plugin

EXAMPLE = """
def test_fixtures(ledger_sandbox, ledger_client, ledger_tokens):
    body = {"session_id": "s1", "user_id": "alice"}
    ingest = ledger_tokens.headers("sessions:ingest")
    started = ledger_client.post("/v1/sessions", json=body, headers=ingest)
    assert started.status_code == 201, started.text
    reader = ledger_tokens.headers("sessions:read", tenant="acme")
    listed = ledger_client.get("/v1/users/alice/sessions", headers=reader)
    assert [s["id"] for s in listed.json()["sessions"]] == ["s1"]
    assert ledger_client.get("/v1/users/alice/sessions").status_code == 401

def test_urls_are_fresh(ledger_database_url):
    assert ledger_database_url() != ledger_database_url()
"""


def test_the_entry_point_names_the_plugin() -> None:
    (found,) = [e for e in entry_points(group="pytest11") if e.value == "ledger.testing.plugin"]
    assert found.load() is plugin


def test_a_fresh_pytest_run_gets_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(EXAMPLE)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


def test_importing_the_plugin_loads_neither_hypothesis_nor_the_ledger() -> None:
    code = (
        "import sys, ledger.testing.plugin; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('hypothesis', 'fastapi')"
        " or m in ('ledger.bootstrap', 'ledger.application')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_fixtures_clash_with_none_of_this_suite() -> None:
    ours = {
        name
        for conftest in Path(__file__).parents[1].rglob("conftest.py")
        for name in re.findall(r"^def (\w+)\(", conftest.read_text(), flags=re.MULTILINE)
    }
    kit = {name for name in vars(plugin) if name.startswith("ledger_")}
    assert kit == {"ledger_database_url", "ledger_sandboxes", "ledger_sandbox", "ledger_client",
                   "ledger_tokens"}  # fmt: skip
    assert not kit & ours

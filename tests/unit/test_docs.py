"""The code's own words stay true: named tests exist, no issue numbers, no files outside.

README's table of figures is the one `bench/figures.py` renders from bench/results.
Every `tests/...py` a docstring or comment names must exist (a module says where its test
lives; a rename that forgets it fails here). Code names no tracker issues and no files outside
the repository (../shared): it must read the same to someone who has only the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    p
    for folder in ("ledger", "replay_tools", "bench", "tests")
    for p in (ROOT / folder).rglob("*")
    if p.suffix in {".py", ".js", ".html", ".css"}
    and "__pycache__" not in p.parts
    and "node_modules" not in p.parts
]
TEST_PATH = re.compile(r"\btests/[\w/]+\.py\b")
ISSUE = re.compile(r"\bissues? #?\d+\b|\(issue\b|\.\./shared|\bCONNECTORS\.md|\bDESIGN\.md", re.I)


def test_every_named_test_file_exists() -> None:
    named = {
        (source.relative_to(ROOT), path)
        for source in SOURCES
        for path in TEST_PATH.findall(source.read_text())
    }
    assert named, "no module names its tests: the check would pass trivially"
    missing = sorted(f"{src}: {path}" for src, path in named if not (ROOT / path).is_file())
    assert missing == []


def test_code_names_no_issue_and_no_file_outside_the_repository() -> None:
    this = Path(__file__).resolve()
    found = [
        f"{source.relative_to(ROOT)}:{n}: {line.strip()}"
        for source in SOURCES
        if source != this
        for n, line in enumerate(source.read_text().splitlines(), 1)
        if ISSUE.search(line)
    ]
    assert found == []


def test_every_setting_is_documented_in_the_readme() -> None:
    from ledger.config import Settings

    readme = (ROOT / "README.md").read_text()
    names = [f"LEDGER_{field.upper()}" for field in Settings.model_fields]
    assert len(names) > 30, "no settings found: the check would pass trivially"
    assert [name for name in names if name not in readme] == []


def test_the_readme_figures_are_the_results_files_figures() -> None:
    from bench import figures, report

    shown = figures.block((ROOT / "README.md").read_text())
    assert shown == figures.render(report.newest_rows()), "run `python -m bench.figures`"
    assert "| W1 start session, 1 client, SQLite |" in shown  # a headline row, from the files

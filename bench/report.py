"""Writes a run's rows to bench/results/<date>.json and renders bench/RESULTS.md (the newest
measurement of every row across the results files).

Goals are judged here, from figures of the same run, never in tests. A run of a few
benchmarks (`--only`) replaces those rows in the day's file and keeps the others.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.core import Row

HERE = Path(__file__).parent
RESULTS = HERE / "results"
MARKDOWN = HERE / "RESULTS.md"

Check = Callable[[Row], bool]
GOALS: list[tuple[str, str, str, Check]] = [
    ("W2", "postgresql, 16 clients", ">= 1.0x raw", lambda r: (r.ratio or 0) >= 1.0),
    ("W1", "sqlite", ">= 0.5x raw", lambda r: (r.ratio or 0) >= 0.5),
    ("P1", "", ">= 0.25x the raw scan", lambda r: (r.ratio or 0) >= 0.25),
    (
        "H1",
        "",
        ">= 0.6x bare; p99 <= 25 ms",
        lambda r: (r.ratio or 0) >= 0.6 and (r.p99_ms or 1e9) <= 25,
    ),
    ("R1", "full replay", ">= 0.5x the raw scan", lambda r: (r.ratio or 0) >= 0.5),
]


ORDER = ["L1", "C1", "W1", "W2", "W3", "P1", "P2", "H1", "H2", "R1", "R2", "S1"]
"""The order of the rows in the results file and on the page."""


def _rank(row: dict[str, Any]) -> int:
    return ORDER.index(row["id"]) if row["id"] in ORDER else len(ORDER)


def judge(row: Row) -> None:
    """Set the row's goal and whether it is met (None when it did not run)."""
    if "workers" in row.case or "processes" in row.case:
        return  # the scaling rows beside a goal's case: on record, not judged
    for id_, prefix, text, check in GOALS:
        if row.id == id_ and prefix in row.case and row.metric.endswith("/s"):
            row.goal = text
            row.goal_met = check(row) if row.status == "ok" and row.ledger is not None else None


def save(run: dict[str, Any], rows: list[Row], *, merge: bool) -> Path:
    """Write the day's JSON (merging with an earlier partial run of the same day)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{run['date']}.json"
    new = [{**row.as_dict(), "mode": run["mode"], "measured": run["started"]} for row in rows]
    data: dict[str, Any] = {"run": run, "earlier_runs": []}
    if merge and path.exists():
        old = json.loads(path.read_text())
        ran = {row.id for row in rows}
        kept = [r for r in old.get("rows", []) if r["id"] not in ran]
        if kept:
            new = kept + new
            data["earlier_runs"] = [*old.get("earlier_runs", []), old["run"]]
    data["rows"] = sorted(new, key=_rank)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _ratio(row: dict[str, Any]) -> str:
    ratio = row.get("ratio")
    return "-" if ratio is None else f"{ratio:.2f}x"


def _goal(row: dict[str, Any]) -> str:
    if not row.get("goal"):
        return ""
    met = row.get("goal_met")
    mark = "not run" if met is None else ("**met**" if met else "**not met**")
    return f"{row['goal']}: {mark}"


def _latency(p50: float | None, p99: float | None) -> str:
    if p50 is None:
        return "-"
    return f"{p50:.2f} / {p99:.2f}" if p99 is not None else f"{p50:.2f}"


def render(data: dict[str, Any]) -> str:
    """The markdown page for one day's results."""
    run, rows = data["run"], data["rows"]
    m = run.get("machine", {})
    lines = [
        "# Benchmark results",
        "",
        f"Run: `{run.get('command', '')}` on {run.get('date')} ({run.get('mode')} sizes),"
        f" {run.get('duration_s', 0):.0f} s, commit `{run.get('commit', '?')}`.",
        "",
        f"Machine: {m.get('cores')} cores ({m.get('cpu', '?')}), {m.get('memory_gb')} GB memory,"
        f" PostgreSQL {m.get('postgres_server_version')} (synchronous_commit="
        f"{m.get('postgres_synchronous_commit')}, fsync={m.get('postgres_fsync')}),"
        f" SQLite {m.get('sqlite')} ({m.get('sqlite_durability')}), Python {m.get('python')}."
        f" Load average at start: {m.get('load_average_at_start')}.",
        "",
    ]
    if run.get("note"):
        lines += [f"> {run['note']}", ""]
    lines += [
        "Ratio = ledger ÷ baseline, both measured in the same run on the same database."
        " For lag and latency rows lower is better. Latencies in ms (p50 / p99).",
        "",
        "| row | case | metric | ledger | baseline | ratio | ledger p50/p99 | baseline p50/p99"
        " | goal | store | notes |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in rows:
        if r["id"] == "S1":
            continue
        notes = r.get("notes", "") if r["status"] == "ok" else f"{r['status']}: {r.get('notes')}"
        if r.get("measured") and r["measured"] != run.get("started"):
            notes = f"(earlier {r.get('mode')} run, {r['measured']}) {notes}"
        lines.append(
            f"| {r['id']} | {r['case']} | {r['metric']} | {_num(r.get('ledger'), 1)} |"
            f" {_num(r.get('baseline'), 1)} | {_ratio(r)} |"
            f" {_latency(r.get('p50_ms'), r.get('p99_ms'))} |"
            f" {_latency(r.get('baseline_p50_ms'), r.get('baseline_p99_ms'))} | {_goal(r)} |"
            f" {r.get('store', '')} | {notes.replace('|', '/')} |"
        )
    for r in rows:
        if r.get("baseline_name") and r["id"] != "S1":
            lines.append("")
            break
    seen: set[tuple[str, str]] = set()
    for r in rows:
        key = (r["id"], r.get("baseline_name", ""))
        if r["id"] != "S1" and r.get("baseline_name") and key not in seen:
            seen.add(key)
            lines.append(f"* {r['id']} baseline: {r['baseline_name']}.")
    lines += _scale_table([r for r in rows if r["id"] == "S1"])
    return "\n".join(lines) + "\n"


def _scale_table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    sizes = sorted({int(r["extra"]["sessions"]) for r in rows if r.get("extra")})
    lines = [
        "",
        "## S1: query latency as the store grows (p50 / p99 ms; growth = p50 ÷ p50 at the"
        " smallest size)",
        "",
        "| backend | query | " + " | ".join(f"{s:,} sessions" for s in sizes) + " | growth |",
        "| --- | --- | " + " | ".join("---:" for _ in sizes) + " | ---: |",
    ]
    table: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
    for r in rows:
        extra = r.get("extra") or {}
        if "query" not in extra:
            lines.append(f"| {r['case']} | {r['status']}: {r.get('notes')} |")
            continue
        table.setdefault((extra["backend"], extra["query"]), {})[int(extra["sessions"])] = r
    for (backend, query), by_size in table.items():
        cells = [_cell(by_size.get(s)) for s in sizes]
        largest = by_size[max(by_size)]
        lines.append(f"| {backend} | {query} | " + " | ".join(cells) + f" | {_ratio(largest)} |")
    return lines


def _cell(row: dict[str, Any] | None) -> str:
    return "-" if row is None else _latency(row.get("p50_ms"), row.get("p99_ms"))


def newest_rows(folder: Path = RESULTS) -> dict[tuple[str, str], dict[str, Any]]:
    """Every (row, case) of the results files, its newest measurement."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(folder.glob("[0-9]*.json")):
        for row in json.loads(path.read_text()).get("rows", []):
            key = (row["id"], row["case"])
            if key not in rows or row.get("measured", "") >= rows[key].get("measured", ""):
                rows[key] = row
    return rows


def write_markdown(json_path: Path) -> Path:
    """Render RESULTS.md: the newest measurement of every row in bench/results (the run in
    `json_path` heads the page; rows from earlier runs say when they were measured), keeping
    the soak's section (bench/soak.py)."""
    data = json.loads(json_path.read_text())
    rows = sorted(newest_rows(json_path.parent).values(), key=_rank)
    text = render({"run": data["run"], "rows": rows})
    old = MARKDOWN.read_text() if MARKDOWN.exists() else ""
    if "<!-- soak -->" in old:
        text = text.rstrip("\n") + "\n\n<!-- soak -->" + old.split("<!-- soak -->", 1)[1]
    MARKDOWN.write_text(text)
    return MARKDOWN


if __name__ == "__main__":  # `python -m bench.report`: RESULTS.md again from the newest file
    newest = sorted(RESULTS.glob("[0-9]*.json"))[-1]
    print(f"wrote {write_markdown(newest)}")

"""The soak's report: a PNG of memory and lag over time, and the "Soak" section of RESULTS.md
(between markers, which `make bench` keeps; bench/report.py). Run by bench/soak.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report import MARKDOWN

SECTION_START, SECTION_END = "<!-- soak -->", "<!-- /soak -->"


def plot(result: dict[str, Any], path: Path) -> None:
    """Memory and lag over time, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["per_minute"]
    minutes = [r["minute"] for r in rows]
    fig, (mem, lag) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    mem.plot(minutes, [r["rss_mb"] for r in rows], marker="o")
    mem.set_ylabel("resident memory (MB)")
    mem.set_ylim(bottom=0)
    lag.plot(minutes, [r["lag_max"] or 0 for r in rows], marker="o", label="max")
    lag.plot(minutes, [r["lag_mean"] or 0 for r in rows], marker=".", label="mean")
    lag.set_ylabel("view lag (notifications)")
    lag.set_xlabel("minute")
    lag.legend()
    fig.suptitle(f"Soak, {result['backend']}, {result['rate_ops_s']:.0f} operations/s "
                 f"({result['load']:.0%} of measured capacity)")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def markdown(result: dict[str, Any], png: Path) -> str:
    """The Soak section of RESULTS.md."""
    lines = [
        SECTION_START,
        "## Soak",
        "",
        f"Run: `python -m bench.soak --minutes {result['minutes']} --backend "
        f"{result['backend']}` on {result['started'][:10]}, commit `{result['commit']}`; "
        f"capacity {result['capacity_ops_s']:,.0f} operations/s measured first "
        f"({result['calibrate_s']} s, {result['clients']} clients, closed loop), then "
        f"{result['rate_ops_s']:,.0f}/s ({result['load']:.0%}). Mix: "
        + ", ".join(f"{op} {w}%" for op, w in result["mix"].items())
        + f". Load average at start: {result['machine'].get('load_average_at_start')}.",
        "",
    ]
    if result.get("note"):
        lines += [f"> {result['note']}", ""]
    lines += [
        "| minute | RSS MB | open fds | DB connections | view lag max / mean | operations "
        "| errors | command p50 / p99 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in result["per_minute"]:
        lines.append(
            f"| {r['minute']} | {r['rss_mb']} | {r['fds']} | {r['db_connections'] or '-'} "
            f"| {r['lag_max']} / {r['lag_mean']} | {r['operations']:,} | {r['errors']} "
            f"| {r['command_p50_ms']} / {r['command_p99_ms']} |"
        )
    lines += ["", f"![memory and lag over time](results/{png.name})", "", SECTION_END]
    return "\n".join(lines)


def write_section(section: str) -> None:
    """Replace (or append) the Soak section of RESULTS.md; `make bench` keeps it."""
    text = MARKDOWN.read_text() if MARKDOWN.exists() else ""
    if SECTION_START in text:
        head, rest = text.split(SECTION_START, 1)
        tail = rest.split(SECTION_END, 1)[1] if SECTION_END in rest else ""
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    MARKDOWN.write_text(text)

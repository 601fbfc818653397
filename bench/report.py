"""Writes bench/RESULTS.md: the machine, the command, one table row per figure, and how each was measured."""

from __future__ import annotations

import time
from pathlib import Path

from common import Row, machine

HEADER = (
    "| # | figure | floor measured in the same run | measured | ratio / delta | target | meets? |\n"
    "|---|---|---|---|---|---|---|"
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[tuple[int, Row]], *, command: str, elapsed_s: float, smoke: bool) -> str:
    m = machine()
    lines = [
        "# sora-mcp benchmarks",
        "",
        "Every figure sits next to a floor measured in the same run on the same machine, so ratios stay",
        "comparable across machines. Medians with their spread (IQR when there are 4+ values, else",
        "min–max). Benchmarks are not timed tests: CI only runs a one-repetition smoke of this command.",
        "",
        f"- command: `{command}`"
        + (" (SMOKE: one repetition, tiny sizes — not a real result)" if smoke else ""),
        f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['os']}, Python {m['python']}",
        f"- versions: {m['versions']}",
        f"- run: {time.strftime('%Y-%m-%d %H:%M %Z')}, {elapsed_s:.0f} s in all",
        "",
        HEADER,
    ]
    for i, r in rows:
        cells = [str(i), r.figure, r.floor, r.measured, r.ratio, r.target, r.meets]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "## How each row was measured", ""]
    lines += [f"{i}. **{r.figure}** — {r.how}." for i, r in rows]
    notes = [f"- row {i}: {r.detail['note']}" for i, r in rows if r.detail.get("note")]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)

"""`sora-mcp doctor`: are the configured backends ready? A table for people, `--json` for scripts.

Exit 0 when every backend is usable, 1 when one is not (the table names the problem and its
fix). Only reads are sent (see `service.doctor`): doctor never creates a job or spends money.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import anyio

from sora_mcp.cli.output import emit, note
from sora_mcp.errors import SoraError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the configured backend: reachable, key, dialect, models, operations, price (no paid job)",
        description="Check the configured backend the way a new user needs it: reachable, key accepted, "
        "dialect, models with their sizes and durations, supported operations and the price of a default "
        "clip. Sends only reads; never creates a job. Exit 1 when a backend is unusable.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    p.set_defaults(func=run)


def _mark(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: "?"}[value]


def _render(reports: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=120)
    for r in reports:
        table = Table(title=f"Backend {r.name}: {r.host}", show_header=False, title_justify="left")
        table.add_column("check", style="bold")
        table.add_column("result", overflow="fold")
        table.add_row("reachable", _mark(r.reachable))
        table.add_row("key accepted", _mark(r.key_accepted))
        table.add_row("dialect", r.dialect)
        table.add_row("operations", "  ".join(f"{op}: {_mark(ok)}" for op, ok in r.operations.items()))
        if r.default_clip is not None:
            q = r.default_clip
            price = "unknown" if q.usd is None else f"${q.usd:.2f}"
            table.add_row("default clip", f"{q.model} {q.size} {q.seconds} s: {price} ({q.note})")
        table.add_row("status", "usable" if r.usable else f"UNUSABLE: {r.problem}")
        if r.fix and not r.usable:
            table.add_row("fix", r.fix)
        console.print(table)
        if r.models:
            models = Table(
                title=f"Models{f' ({r.models_note})' if r.models_note else ''}", title_justify="left"
            )
            for column in ("model", "sizes", "seconds", "USD per second"):
                models.add_column(column, overflow="fold")
            for m in r.models:
                prices = ", ".join(f"{k}: {v:g}" for k, v in m.usd_per_second.items()) or "-"
                models.add_row(m.id, ", ".join(m.sizes), m.seconds, prices)
            console.print(models)


async def _diagnose() -> list[Any]:
    from sora_mcp.cli.human_run import open_service

    async with open_service() as svc:
        return await svc.diagnose()


def run(args: argparse.Namespace) -> int:
    try:
        reports = anyio.run(_diagnose)
    except SoraError as exc:
        note(f"Error: {exc}")
        return 1
    if args.json:
        emit([r.model_dump(mode="json") for r in reports])
    else:
        _render(reports)
    unusable = [r for r in reports if not r.usable]
    for r in unusable:
        note(f"Backend {r.name} ({r.host}) is unusable: {r.problem}. Fix: {r.fix}")
    return 1 if unusable else 0

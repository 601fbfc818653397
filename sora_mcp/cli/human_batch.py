"""`sora-mcp create-batch`: many creates from a JSONL file, through `VideoService.create_batch`
(the same batch operation, JSONL format, retries and concurrency the MCP front end uses).

Stdout gets one JSON line per job (in input order, each with its line number); `--out-dir`
also keeps one JSON file per job and a summary. Exit 1 when any job failed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sora_mcp.cli.output import cli_words, emit, job_data, note, to_data, write_json_out


def add_parser(sub: Any, command: Any) -> None:
    from sora_mcp.cli.usage import PROMPT_FIELDS, ranged

    p = command(sub, "create-batch", "create many videos from a JSONL file (one job per line)", "batch")
    p.add_argument(
        "--input",
        required=True,
        metavar="FILE.jsonl",
        help='one JSON object per line: {"prompt": ..., "model", "size", "seconds", "camera", ...}',
    )
    p.add_argument(
        "--out-dir", metavar="DIR", help="also write one JSON result per job (line-NNN.json) and summary.json"
    )
    p.add_argument(
        "--concurrency", type=ranged(int, 1, 10), default=3, help="jobs sent at once, 1-10 (default 3)"
    )
    p.add_argument(
        "--max-attempts",
        type=ranged(int, 1, 10),
        default=3,
        help="tries per job on a retryable error, 1-10 (default 3)",
    )
    p.add_argument("--fail-fast", action="store_true", help="stop sending new jobs after the first failure")
    p.add_argument(
        "--dry-run", action="store_true", help="validate every line and quote the total; send nothing"
    )
    defaults = p.add_argument_group("defaults for lines that do not set them")
    defaults.add_argument("--model", help="model id")
    defaults.add_argument("--size", help="WIDTHxHEIGHT")
    defaults.add_argument("--seconds", help="duration in seconds")
    defaults.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="weave prompt fields into the structured template (default: on)",
    )
    for flag, dest in PROMPT_FIELDS.items():
        defaults.add_argument(f"--{flag}", dest=dest, metavar="TEXT", help=dest.replace("_", " "))


def batch_defaults(args: argparse.Namespace) -> dict[str, Any]:
    from sora_mcp.cli.usage import PROMPT_FIELDS

    names = ["model", "size", "seconds", "augment", *PROMPT_FIELDS.values()]
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


async def run_batch(svc: Any, args: argparse.Namespace) -> int:
    from sora_mcp.cli.usage import UsageError

    path = Path(args.input).expanduser()
    if not path.is_file():
        raise UsageError(f"--input {args.input} is not a file: pass a JSONL file, one job per line")

    async def on_progress(done: float, total: float, message: str) -> None:
        note(f"[{int(done)}/{int(total)}] {cli_words(message)}")

    result = await svc.create_batch(
        jsonl_path=str(path),
        defaults=batch_defaults(args) or None,
        concurrency=args.concurrency,
        max_attempts=args.max_attempts,
        fail_fast=args.fail_fast,
        dry_run=args.dry_run,
        on_progress=on_progress,
    )
    lines = [_line_data(r) for r in result.results]
    for data in lines:
        emit(data, compact=True)
    if args.out_dir:
        _write_out_dir(Path(args.out_dir), lines, result)
    for data in lines:
        if not data["ok"]:
            note(f"Error: {data.get('error') or 'line ' + str(data['line']) + ' failed'}")
    what = "would create" if args.dry_run else "created"
    note(
        f"{what} {len(lines) - result.failed if args.dry_run else result.created}, failed {result.failed}"
        + _cost(result)
        + (". Follow each with: sora-mcp poll --id ID --download" if result.created else "")
    )
    return 1 if result.failed else 0


def _write_out_dir(out_dir: Path, lines: list[dict[str, Any]], result: Any) -> None:
    for data in lines:
        write_json_out(str(out_dir / f"line-{data['line']:03d}.json"), "", data)
    summary = to_data(result)
    summary.pop("results", None)
    summary["next_step"] = (
        "Follow each created job: sora-mcp poll --id ID --download (ids under `lines`)."
        if result.created
        else "No job was created."
    )
    if result.failed:
        summary["next_step"] += " Fix the lines that failed (see their errors) and send only them again."
    summary["lines"] = [
        {"line": d["line"], "ok": d["ok"], "id": (d.get("job") or {}).get("id")} for d in lines
    ]
    write_json_out(str(out_dir / "summary.json"), "", summary)
    note(f"Wrote {len(lines)} result file(s) and summary.json to {out_dir}")


def _line_data(r: Any) -> dict[str, Any]:
    data = to_data(r)
    if data.get("error"):
        data["error"] = cli_words(str(data["error"]))
    if r.job is not None and r.job.status == "dry_run":
        data["job"]["next_step"] = "Nothing was created or billed. Run again without --dry-run to create it."
    elif r.job is not None:
        data["job"] = job_data(r.job)
    return data


def _cost(result: Any) -> str:
    usd = getattr(result, "total_quote_usd", None)
    return "" if usd is None else f"; estimated total ${usd:.2f}"

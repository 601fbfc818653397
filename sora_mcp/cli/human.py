"""The human commands' command line: create, create-and-poll, poll, status, list, download,
delete, remix, extend, edit, create-batch — flags named like OpenAI's `sora` skill CLI.

This module only declares arguments; `human_run` (and `human_batch`) carry each command out
through `VideoService`, the same service the MCP tools call.
"""

from __future__ import annotations

import argparse
from typing import Any

from sora_mcp.cli.usage import PROMPT_FIELDS, ranged
from sora_mcp.models import VARIANT_EXT

EXIT_CODES = (
    "Exit codes: 0 done; 1 error (printed as 'Error: ...'); 2 usage error; "
    "3 --timeout reached while the job is still running (resume with 'sora-mcp poll --id ID')."
)


def _command(sub: Any, name: str, help_text: str, handler: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES)
    p.set_defaults(func=_run, handler=handler)
    return p


def _prompt_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--prompt", help="what the video should show")
    group.add_argument("--prompt-file", metavar="FILE", help="read the prompt from a text file ('-' = stdin)")
    p.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="weave the fields below into the structured prompt template (default: on)",
    )
    fields = p.add_argument_group("prompt fields (each becomes one line of the structured prompt)")
    for flag, dest in PROMPT_FIELDS.items():
        extra = " (what the shot must avoid)" if flag == "negative" else ""
        fields.add_argument(f"--{flag}", dest=dest, metavar="TEXT", help=f"{dest.replace('_', ' ')}{extra}")


def _output_args(p: argparse.ArgumentParser, default_name: str = "<id>.json") -> None:
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the request that would be sent and its cost estimate; call nothing",
    )
    p.add_argument(
        "--json-out",
        metavar="PATH",
        help=f"also write the JSON result to PATH (a directory or a path ending in / gets "
        f"{default_name}; no extension gets .json)",
    )


def _video_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="sora-2", help="model id (default sora-2; see sora://models)")
    p.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    p.add_argument("--seconds", default="4", help="duration in seconds (default 4)")
    p.add_argument(
        "--backend", metavar="NAME", help="a backend named in the backends file (default: by model)"
    )
    p.add_argument(
        "--input-reference",
        metavar="IMAGE",
        help="first-frame image: a local jpg/png/webp, an https URL, a data: URL or a file_id",
    )


def _out_args(p: argparse.ArgumentParser, *, with_download: bool) -> None:
    if with_download:
        p.add_argument("--download", action="store_true", help="save the file when the job completes")
    p.add_argument(
        "--variant",
        choices=list(VARIANT_EXT),
        default="video",
        help="video (MP4), thumbnail (WebP) or spritesheet (JPEG); default video",
    )
    p.add_argument(
        "--out",
        metavar="PATH",
        help="where to save it (no extension → the variant's; a directory → <id>.<ext> inside). "
        "Without --out the file stays in the library and its path is printed",
    )
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")


def _poll_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--poll-interval",
        type=ranged(float, 0.1),
        metavar="SECONDS",
        help="wait at least N seconds between checks (default: when the backend's poll-after hint "
        "says, else 2 s doubling to 15 s); it only slows polling, never speeds it past the hint",
    )
    p.add_argument(
        "--timeout",
        type=ranged(float, 0),
        default=600.0,
        metavar="SECONDS",
        help="stop waiting after this long (default 600); the job keeps running, exit code 3",
    )
    _out_args(p, with_download=True)


def _id_arg(p: argparse.ArgumentParser, what: str = "the video id") -> None:
    p.add_argument("--id", required=True, dest="video_id", metavar="VIDEO_ID", help=what)


def add_parsers(sub: Any) -> None:
    p = _command(sub, "create", "start a video job and print it as JSON (returns at once)", "create")
    _prompt_args(p)
    _video_args(p)
    _output_args(p)

    p = _command(
        sub,
        "create-and-poll",
        "start a video job, wait for it with a progress bar, optionally download it",
        "create_and_poll",
    )
    _prompt_args(p)
    _video_args(p)
    _output_args(p)
    _poll_args(p)

    p = _command(sub, "poll", "wait for a job to finish (progress on stderr), optionally download it", "poll")
    _id_arg(p)
    _poll_args(p)
    p.add_argument("--json-out", metavar="PATH", help="also write the JSON result to PATH")

    p = _command(sub, "status", "print a job's current state as JSON", "status")
    _id_arg(p)
    p.add_argument("--json-out", metavar="PATH", help="also write the JSON result to PATH")

    p = _command(sub, "list", "list jobs (backend and library merged), newest first", "list")
    p.add_argument("--limit", type=ranged(int, 1, 100), default=20, help="page size 1-100 (default 20)")
    p.add_argument("--order", choices=["desc", "asc"], default="desc", help="desc = newest first")
    p.add_argument("--after", metavar="CURSOR", help="the cursor printed after the previous page")
    p.add_argument("--status", help="only jobs with this status (e.g. completed)")
    p.add_argument(
        "--json", action="store_true", help="JSON on stdout (the default when stdout is not a terminal)"
    )

    p = _command(sub, "download", "save a completed job's video, thumbnail or spritesheet", "download")
    _id_arg(p)
    _out_args(p, with_download=False)

    p = _command(sub, "delete", "delete a job on the backend (archived files kept unless asked)", "delete")
    _id_arg(p)
    p.add_argument("--delete-local-files", action="store_true", help="also delete its files in the library")

    for kind, text in (
        ("remix", "make a new video from a completed one, changing only what the prompt says"),
        ("extend", "continue a completed video with a new segment (where the backend can)"),
        ("edit", "re-render a completed video per an instruction (where the backend can)"),
    ):
        p = _command(sub, kind, text, "derive")
        p.set_defaults(kind=kind)
        _id_arg(p, "the source video's id")
        _prompt_args(p)
        _output_args(p)
        if kind == "extend":
            p.add_argument("--seconds", default="4", help="length of the NEW segment in seconds (default 4)")

    from sora_mcp.cli.human_batch import add_parser as add_batch

    add_batch(sub, _command)


def _run(args: argparse.Namespace) -> int:
    from sora_mcp.cli.human_run import run

    return run(args)

"""Carrying out the human commands: each builds a request, then calls `VideoService` — the same
service and backend configuration the MCP tools use (the embedded engine when no
SORA_MCP_BASE_URL is set). Mistakes in the command line are found before anything starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from sora_mcp.cli.output import (
    check_overwrite,
    cli_words,
    download_data,
    emit,
    human_size,
    job_data,
    note,
    out_path,
    print_table,
    save_copy,
    to_data,
    write_json_out,
)
from sora_mcp.cli.usage import UsageError
from sora_mcp.errors import ConfigError, SoraError, as_disk_full
from sora_mcp.models import TERMINAL_STATUSES, Job
from sora_mcp.prompting import AugmentFields
from sora_mcp.service import CreateRequest, DeriveRequest, VideoService

EXIT_TIMEOUT = 3
Handler = Callable[[argparse.Namespace], Awaitable[int]]


def run(args: argparse.Namespace) -> int:
    """Run one command; a SoraError (or a file that cannot be written) is `Error: ...` and exit 1."""
    handler = HANDLERS[args.handler]
    try:
        return anyio.run(handler, args)
    except SoraError as exc:
        note(f"Error: {cli_words(str(exc))}")
        return 1
    except Exception as exc:
        # A full disk (a file write or SQLite's "disk is full") reads the same from every command.
        if (full := as_disk_full(exc)) is not None:
            note(f"Error: {cli_words(str(full))}")
            return 1
        if not isinstance(exc, OSError):
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        note(f"Error: {exc.strerror or exc}{where}. Check the path and its permissions.")
        return 1


def _settings() -> Any:
    from pydantic import ValidationError

    from sora_mcp.config import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SORA_MCP_" + "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"{name} is invalid: {first['msg']}", fix=f"Fix or unset {name}.") from None
    # A one-shot command does not follow other unfinished jobs in the background.
    return settings.model_copy(update={"watch": False})


@asynccontextmanager
async def open_service() -> AsyncIterator[VideoService]:
    async with VideoService(_settings()) as svc:
        yield svc


# ---- building requests (before anything starts) -----------------------------------------------
def read_prompt(args: argparse.Namespace) -> str:
    if args.prompt is not None:
        text = args.prompt
    elif args.prompt_file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(args.prompt_file).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise UsageError(f"cannot read --prompt-file {args.prompt_file}: {reason}") from None
    if not text.strip():
        raise UsageError("the prompt is empty: pass --prompt TEXT or a non-empty --prompt-file")
    return text.strip()


def prompt_fields(args: argparse.Namespace) -> AugmentFields:
    from sora_mcp.cli.usage import PROMPT_FIELDS

    return AugmentFields(**{d: getattr(args, d) for d in PROMPT_FIELDS.values() if getattr(args, d, None)})


def create_request(args: argparse.Namespace) -> CreateRequest:
    return CreateRequest(
        prompt=read_prompt(args),
        model=args.model,
        size=args.size,
        seconds=args.seconds,
        input_reference=args.input_reference,
        augment=args.augment,
        fields=prompt_fields(args),
        backend=getattr(args, "backend", None),
    )


def _early_out(args: argparse.Namespace, video_id: str | None) -> Path | None:
    """The --out file, checked for --force now so nobody waits for a render that cannot be saved."""
    if not args.out:
        return None
    dest = out_path(args.out, video_id, args.variant)
    check_overwrite(dest, args.force)
    return dest


# ---- reporting -------------------------------------------------------------------------------
def _finish(args: argparse.Namespace, data: dict[str, Any], default_name: str) -> None:
    emit(data)
    written = write_json_out(getattr(args, "json_out", None), default_name, data)
    if written is not None:
        note(f"Wrote {written}")


def _report_dry_run(args: argparse.Namespace, job: Job, request: dict[str, Any]) -> int:
    quote = job.quote
    cost = "unknown" if quote is None or quote.usd is None else f"${quote.usd:.2f}"
    note(f"Dry run: nothing was sent. Estimated cost {cost}" + (f" ({quote.note})" if quote else "") + ".")
    data = {
        "dry_run": True,
        "request": request,
        "quote": to_data(quote) if quote else None,
        "next_step": "Run the same command without --dry-run to create it.",
    }
    _finish(args, data, "dry-run.json")
    return 0


def _report_created(args: argparse.Namespace, job: Job) -> int:
    note(f"Created {job.id} ({job.status}). Follow it: sora-mcp poll --id {job.id} --download")
    _finish(args, job_data(job), f"{job.id}.json")
    return 0


# ---- commands --------------------------------------------------------------------------------
async def cmd_create(args: argparse.Namespace) -> int:
    req = create_request(args)
    async with open_service() as svc:
        job = await svc.create(req, dry_run=args.dry_run)
    if args.dry_run:
        return _report_dry_run(args, job, _create_summary(req, job))
    return _report_created(args, job)


def _create_summary(req: CreateRequest, job: Job) -> dict[str, Any]:
    return {
        "model": job.model,
        "size": job.size,
        "seconds": job.seconds,
        "prompt": job.prompt,
        "input_reference": req.input_reference,
    }


async def cmd_create_and_poll(args: argparse.Namespace) -> int:
    req = create_request(args)
    _early_out(args, None)
    async with open_service() as svc:
        job = await svc.create(req, dry_run=args.dry_run)
        if args.dry_run:
            return _report_dry_run(args, job, _create_summary(req, job))
        note(f"Created {job.id} ({job.status}).")
        return await _wait_and_save(svc, job.id, args)


async def cmd_poll(args: argparse.Namespace) -> int:
    _early_out(args, args.video_id)
    async with open_service() as svc:
        return await _wait_and_save(svc, args.video_id, args)


async def _wait_and_save(svc: VideoService, video_id: str, args: argparse.Namespace) -> int:
    from sora_mcp.cli.progress import follow, make_display

    display = make_display(video_id)
    try:
        job = await follow(
            svc, video_id, timeout=args.timeout, poll_interval=args.poll_interval, display=display
        )
    finally:
        display.close()
    data = job_data(job)
    if job.status not in TERMINAL_STATUSES:
        _finish(args, data, f"{job.id}.json")
        note(
            f"Error: timed out after {args.timeout:g}s: {video_id} is still {job.status} ({job.progress}%). "
            f"It keeps going{_engine_note(svc)}; resume with: {_resume(args, video_id)}"
        )
        return EXIT_TIMEOUT
    if job.status != "completed":
        _finish(args, data, f"{job.id}.json")
        why = f" ({job.error.code}): {job.error.message}" if job.error else ""
        note(f"Error: {video_id} {job.status}{why}")
        return 1
    if args.download or args.out:
        asset = await svc.download(video_id, args.variant)
        dest = _early_out(args, video_id)
        saved = save_copy(asset, dest, args.force, svc.store) if dest is not None else None
        data["download"] = download_data(asset, saved)
        note(f"Saved {args.variant} to {saved or asset.path} ({human_size(asset.size_bytes)})")
    _finish(args, data, f"{job.id}.json")
    return 0


def _engine_note(svc: VideoService) -> str:
    if svc.uses_engine:
        return " (the embedded engine renders only while a sora-mcp command runs)"
    return " on the backend"


def _resume(args: argparse.Namespace, video_id: str) -> str:
    parts = ["sora-mcp poll --id", video_id]
    if getattr(args, "download", False):
        parts.append("--download")
    if args.variant != "video":
        parts += ["--variant", args.variant]
    if args.out:
        parts += ["--out", args.out]
    return " ".join(parts)


async def cmd_status(args: argparse.Namespace) -> int:
    async with open_service() as svc:
        job = await svc.get_status(args.video_id)
    note(f"{job.id}: {job.status} {job.progress}%")
    _finish(args, job_data(job), f"{job.id}.json")
    return 0


async def cmd_list(args: argparse.Namespace) -> int:
    async with open_service() as svc:
        page = await svc.list_jobs(limit=args.limit, after=args.after, order=args.order, status=args.status)
    if args.json or not sys.stdout.isatty():
        data = to_data(page)
        data["data"] = [job_data(j) for j in page.data]
        emit(data)
    else:
        print_table(page)
    return 0


async def cmd_download(args: argparse.Namespace) -> int:
    dest = _early_out(args, args.video_id)
    async with open_service() as svc:
        asset = await svc.download(args.video_id, args.variant)
    saved = save_copy(asset, dest, args.force, svc.store) if dest is not None else None
    note(f"Saved {asset.variant} to {saved or asset.path} ({human_size(asset.size_bytes)})")
    emit(download_data(asset, saved))
    return 0


async def cmd_delete(args: argparse.Namespace) -> int:
    async with open_service() as svc:
        result = await svc.delete(args.video_id, delete_local_files=args.delete_local_files)
    note(
        f"{result.id}: "
        + ("deleted on the backend" if result.deleted else "not deleted on the backend")
        + (f". {cli_words(result.note)}" if result.note else "")
    )
    emit(to_data(result))
    return 0


async def cmd_derive(args: argparse.Namespace) -> int:
    """remix / extend / edit."""
    req = DeriveRequest(
        video_id=args.video_id,
        prompt=read_prompt(args),
        seconds=getattr(args, "seconds", None),
        augment=args.augment,
        fields=prompt_fields(args),
    )
    async with open_service() as svc:
        job = await svc.derive(args.kind, req, dry_run=args.dry_run)
    if args.dry_run:
        request = {
            "kind": args.kind,
            "video_id": args.video_id,
            "prompt": job.prompt,
            "model": job.model,
            "size": job.size,
            "seconds": job.seconds,
        }
        return _report_dry_run(args, job, request)
    return _report_created(args, job)


async def cmd_batch(args: argparse.Namespace) -> int:
    from sora_mcp.cli.human_batch import run_batch

    async with open_service() as svc:
        return await run_batch(svc, args)


HANDLERS: dict[str, Handler] = {
    "create": cmd_create,
    "create_and_poll": cmd_create_and_poll,
    "poll": cmd_poll,
    "status": cmd_status,
    "list": cmd_list,
    "download": cmd_download,
    "delete": cmd_delete,
    "derive": cmd_derive,
    "batch": cmd_batch,
}

"""What the human commands write: JSON on stdout, notes on stderr, and files the user named.

Scripts read stdout (JSON); people read stderr (status lines, where a file went). Files the
user asked for (`--out`, `--json-out`) are written to a temp file beside the target and renamed
into place, so an interrupted run never leaves half a file behind.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sora_mcp.errors import InvalidInput
from sora_mcp.library.stores import AssetStore, copy_out
from sora_mcp.models import VARIANT_EXT, Asset, Job, JobPage

CLI_NEXT = {
    "queued": "sora-mcp poll --id {id} --download",
    "in_progress": "sora-mcp poll --id {id} --download",
    "completed": "sora-mcp download --id {id} --out FILE (or remix it: sora-mcp remix --id {id} --prompt ...)",
    "failed": "change the prompt or settings and run sora-mcp create again",
}


def note(text: str) -> None:
    """A line for the person at the terminal (stderr, so stdout stays parseable)."""
    print(text, file=sys.stderr, flush=True)


def to_data(value: BaseModel | dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    return value


def job_data(job: Job) -> dict[str, Any]:
    """The job as JSON, with `next_step` naming the CLI command instead of the MCP tool."""
    data = to_data(job)
    template = CLI_NEXT.get(job.status)
    if template is not None:
        data["next_step"] = "Next: " + template.format(id=job.id)
    return data


def emit(data: dict[str, Any] | list[Any], *, compact: bool = False) -> None:
    text = json.dumps(data, separators=(",", ":")) if compact else json.dumps(data, indent=2)
    print(text, flush=True)


def json_out_path(value: str, default_name: str) -> Path:
    """`--json-out`: a directory (existing, or written with a trailing /) gets `default_name`;
    a path without an extension gets `.json`."""
    path = Path(value).expanduser()
    if value.endswith(("/", os.sep)) or path.is_dir():
        return path / default_name
    return path if path.suffix else path.with_suffix(".json")


def write_json_out(value: str | None, default_name: str, data: Any) -> Path | None:
    if not value:
        return None
    path = json_out_path(value, default_name)
    _atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())
    return path


def out_path(value: str, video_id: str | None, variant: str) -> Path | None:
    """`--out`: a file path (no extension → the variant's), or a directory (→ `<id>.<ext>` inside).

    Returns None when the name depends on a video id not known yet (a directory before create)."""
    ext = VARIANT_EXT[variant]
    path = Path(value).expanduser()
    if value.endswith(("/", os.sep)) or path.is_dir():
        return None if video_id is None else path / f"{video_id}{ext}"
    return path if path.suffix else path.with_suffix(ext)


def check_overwrite(path: Path | None, force: bool) -> None:
    """Refuse to replace an existing file unless --force was given."""
    if path is None:
        return
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory", fix="Pass a file name as --out.")
    if path.exists() and not force:
        raise InvalidInput(
            f"{path} already exists", fix="Pass --force to overwrite it, or choose another --out."
        )


def save_copy(asset: Asset, dest: Path, force: bool, store: AssetStore | None = None) -> Path:
    """Copy an archived asset to where the user asked (atomic; never a partial file); a file in
    the S3 store is streamed from it."""
    check_overwrite(dest, force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    copy_out(asset.path, dest, store)
    return dest


def _plain_mode(tmp: str) -> None:
    """mkstemp makes 0600 files; give the result the permissions any new file would get."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        _plain_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def download_data(asset: Asset, saved_to: Path | None) -> dict[str, Any]:
    data = {
        "video_id": asset.video_id,
        "variant": asset.variant,
        "path": str(saved_to if saved_to is not None else asset.path),
        "library_path": asset.path,
        "mime_type": asset.mime_type,
        "size_bytes": asset.size_bytes,
        "sha256": asset.sha256,
    }
    if asset.derived:
        data["derived"] = True
    return data


# Columns in the order they are dropped from the right when the terminal is narrow.
_COLUMNS: list[tuple[str, int]] = [
    ("ID", 0),
    ("STATUS", 11),
    ("%", 3),
    ("SECS", 4),
    ("CREATED", 11),
    ("SIZE", 9),
    ("WHERE", 6),
    ("MODEL", 10),
    ("PROMPT", 20),
]


def print_table(page: JobPage) -> None:
    """`list` on a terminal: one row per job, as many columns as fit."""
    from datetime import datetime

    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not page.data:
        console.print('No videos yet. Make one: sora-mcp create-and-poll --prompt "..." --download')
    id_width = max(len(j.id) for j in page.data) if page.data else 2
    budget = console.width
    shown: list[str] = []
    for name, width in _COLUMNS:
        width = width or id_width
        if budget - width - 2 < 0 and shown:
            break
        budget -= width + 2
        shown.append(name)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in shown:
        table.add_column(
            name, no_wrap=True, overflow="ellipsis", min_width=id_width if name == "ID" else None
        )
    for job in page.data:
        created = datetime.fromtimestamp(job.created_at).strftime("%m-%d %H:%M") if job.created_at else ""
        prompt = (job.prompt or "").strip().splitlines()[0] if job.prompt else ""
        cells = {
            "ID": job.id,
            "STATUS": job.status,
            "%": str(job.progress),
            "SECS": job.seconds or "",
            "CREATED": created,
            "SIZE": job.size or "",
            "WHERE": job.where or "",
            "MODEL": job.model or "",
            "PROMPT": prompt.removeprefix("Primary request: "),
        }
        table.add_row(*(cells[name] for name in shown))
    if page.data:
        console.print(table)
    if page.has_more and page.next_after:
        console.print(f"More: sora-mcp list --after {page.next_after}")
    if page.note:
        console.print(page.note, style="yellow")


_TOOL_WORDS: list[tuple[str, str]] = [
    (r"get_status\(video_id='([^']+)'[^)]*\)", r"sora-mcp poll --id \1"),
    (r"download_asset\(video_id='([^']+)'\)", r"sora-mcp download --id \1"),
    (r"\bget_status\b", "sora-mcp poll"),
    (r"\bdownload_asset\b", "sora-mcp download"),
    (r"\blist_videos\b", "sora-mcp list"),
    (r"\bcreate_video\b", "sora-mcp create"),
    (r"\bremix_video\b", "sora-mcp remix"),
    (r"\bdelete_local_files=true\b", "--delete-local-files"),
    (r"\bdry_run\b", "--dry-run"),
    (r"\baugment=false\b", "--no-augment"),
    (r"\baugment=true\b", "--augment"),
]


def cli_words(text: str) -> str:
    """Service messages name the MCP tools; at a terminal, name the matching commands instead."""
    import re

    for pattern, repl in _TOOL_WORDS:
        text = re.sub(pattern, repl, text)
    return text

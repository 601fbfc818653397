"""Reading archived files for the in-chat player: bounded byte ranges, confined to the library.

The player (an MCP Apps view) cannot be handed a file path or an HTTP URL: a `<video>` cannot
send a bearer header and hosts block undeclared origins. So it pulls the bytes through a tool,
in ranges of at most `MAX_CHUNK` bytes. Each read opens the file, seeks and reads only that
range: the whole file is never held in memory. Every file is looked up through the ledger by
video id and must resolve (symlinks followed) to a regular file inside the library directory
with the size the ledger recorded; anything else is refused as not archived.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import anyio

from sora_mcp.errors import InvalidInput, NotFound
from sora_mcp.library.stores import AssetStore, is_s3_location
from sora_mcp.models import VARIANT_MIME
from sora_mcp.service.context import ServiceContext
from sora_mcp.service.requests import check_id

# 2 MiB less 2 bytes: a multiple of 3, so the base64 of consecutive chunks concatenates into the
# base64 of the whole file (the player can build a data: URL without decoding anything).
MAX_CHUNK = 2 * 1024 * 1024 - 2
VARIANTS = ("video", "thumbnail", "spritesheet")


@dataclass(frozen=True)
class LibraryFile:
    """One archived file, checked to be inside the library."""

    video_id: str
    variant: str
    path: Path
    size: int
    mime_type: str
    store: AssetStore | None = None  # set when the file is an object in the S3 store (`location`)
    location: str = ""


def _not_archived(video_id: str, variant: str) -> NotFound:
    return NotFound(
        f"The {variant} of video {video_id[:80]} is not in the library",
        fix="Wait until the job is completed and archived (get_status), then try again.",
    )


def library_file(ctx: ServiceContext, video_id: str, variant: str) -> LibraryFile:
    """The archived `variant` of `video_id`, or NotFound. Never a path outside the library."""
    check_id(video_id)
    if variant not in VARIANTS:
        raise InvalidInput(f"Unknown variant {variant[:40]!r}", fix="Use video, thumbnail or spritesheet.")
    ctx.check_visible(video_id)  # another user's video answers like an unknown id
    stored = next((a for a in ctx.ledger.assets(video_id) if a.variant == variant), None)
    if stored is None:
        raise _not_archived(video_id, variant)
    if is_s3_location(stored.path):  # in the S3 store: read by ranged GETs, never from disk
        if ctx.store is None:
            raise _not_archived(video_id, variant)
        return LibraryFile(
            video_id, variant, Path(), stored.size_bytes, VARIANT_MIME[variant], ctx.store, stored.path
        )
    # Inside the owner's folder: another user's files are out of reach even if a record pointed there.
    root = ctx.job_library(video_id).resolve()
    try:
        # resolve() follows symlinks, so a link planted in the library that points out is caught here.
        path = (ctx.settings.data_dir / stored.path).resolve(strict=True)
        info = path.stat()
    except (OSError, RuntimeError):
        raise _not_archived(video_id, variant) from None
    if not path.is_relative_to(root) or not stat.S_ISREG(info.st_mode) or info.st_size != stored.size_bytes:
        raise _not_archived(video_id, variant)
    return LibraryFile(video_id, variant, path, info.st_size, VARIANT_MIME[variant])


def _read_file(file: LibraryFile, offset: int, length: int) -> bytes:
    if file.store is not None:
        return file.store.read(file.location, offset, length)
    return _read(file.path, offset, length)


def _read(path: Path, offset: int, length: int) -> bytes:
    # O_NOFOLLOW: the file checked above may not be swapped for a link between the check and the read.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def read_small(file: LibraryFile) -> bytes:
    """The whole of a small checked file (a poster), read the same guarded way as a chunk."""
    if file.size > MAX_CHUNK:
        raise InvalidInput(f"The {file.variant} is too large to send at once", fix="Read it in chunks.")
    return _read_file(file, 0, file.size)


async def read_chunk(
    ctx: ServiceContext, video_id: str, variant: str, offset: int, length: int
) -> tuple[bytes, int]:
    """Bytes [offset, offset+length) of the archived file and the file's total size."""
    if offset < 0:
        raise InvalidInput("offset is negative", fix="Pass offset >= 0.")
    if not 1 <= length <= MAX_CHUNK:
        raise InvalidInput(
            f"length must be 1..{MAX_CHUNK}", fix=f"Ask for at most {MAX_CHUNK} bytes per chunk."
        )
    file = library_file(ctx, video_id, variant)
    if offset > file.size:
        raise InvalidInput(
            f"offset {offset} is past the end ({file.size} bytes)", fix="Start below the size."
        )
    data = await anyio.to_thread.run_sync(_read_file, file, offset, min(length, file.size - offset))
    return data, file.size


def sprite_grid(sheet_w: int, sheet_h: int, clip_w: int, clip_h: int, tiles: int = 16) -> tuple[int, int]:
    """(columns, rows) of a spritesheet: the grid whose tile shape best matches the clip's.

    Backends do not say how their sheet is laid out; the embedded engine and sora-mcp's own
    derived sheets hold 16 tiles row by row. Among grids of about `tiles` tiles, take the one
    whose tiles have the clip's aspect ratio.
    """
    if min(sheet_w, sheet_h, clip_w, clip_h) <= 0:
        return 1, 1
    aspect = clip_w / clip_h
    best: tuple[float, int, int, int] | None = None
    for cols in range(1, tiles + 1):
        rows = -(-tiles // cols)
        miss = abs((sheet_w / cols) / (sheet_h / rows) / aspect - 1)
        key = (round(miss, 2), abs(cols - rows), cols, rows)
        if best is None or key < best:
            best = key
    assert best is not None
    return best[2], best[3]

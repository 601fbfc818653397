"""Turn an `input_reference` argument into something safe to upload, and clean up after it.

Accepted forms: a `file-...` id, an `https://` URL (passed on, never downloaded), a
`data:image/...;base64,` URL, or a local path. Local paths must resolve (symlinks too) inside
the allowed roots and are opened in the same step (`confine`: no folder can be swapped for a
link in between); they must be a regular file no larger than the limit, checked with `fstat`
before a single byte is read. Bytes must really be JPEG, PNG or WebP; their pixel count and
decoded size (pixels x bytes per pixel, so a 16-bit PNG counts double) are checked from the
header before decoding, so bombs are refused cheaply, and JPEGs are decoded reduced when the
target is smaller (`reference_image`: the Pillow half). A limiter bounds how many references are decoded at once. The verified bytes are always
copied (and fitted to the target size when needed) into a temp file that is removed when the
context exits, whatever happens; the upload therefore sends exactly the bytes that were checked.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
import stat
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import anyio
from pydantic import BaseModel

from sora_mcp.errors import InvalidInput
from sora_mcp.prompting import guardrails
from sora_mcp.prompting.confine import Moved, Outside, open_confined, resolve_inside
from sora_mcp.prompting.reference_image import (
    FORMATS,
    MAX_IMAGE_BYTES,
    magic_format,
    refuse,
    verify_and_fit,
)

MAX_BYTES = 20 * 1024 * 1024
_FILE_ID = re.compile(r"^file-[A-Za-z0-9_-]{1,200}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.IGNORECASE | re.DOTALL)


def _roots_fix(roots: Sequence[Path]) -> str:
    # Name the folders: an agent cannot guess what "the working directory" is on this host.
    return (
        f"Put the image inside one of the allowed folders ({', '.join(str(r) for r in roots)}; "
        "SORA_MCP_ALLOWED_ROOTS sets them), or pass an https URL or a file id."
    )


class PreparedReference(BaseModel):
    """What the backend layer uploads. `path` is a temp file owned by the context manager."""

    kind: Literal["file", "image_url", "file_id"]
    path: Path | None = None
    filename: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    image_url: str | None = None
    file_id: str | None = None
    width: int | None = None
    height: int | None = None
    fitted: bool = False


def _parse_size(target_size: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{2,5})x(\d{2,5})", target_size.strip().lower())
    if not m:
        raise InvalidInput(f"size '{target_size[:40]}' is not WIDTHxHEIGHT.", fix='Pass e.g. "1280x720".')
    return int(m.group(1)), int(m.group(2))


def _internal_host(host: str) -> bool:
    """A host the backend must not be sent to fetch from (cloud metadata, the LAN, itself).
    Only literal addresses and reserved names can be told here; DNS is the backend's."""
    import ipaddress

    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    return not ip.is_global or ip.is_multicast


def _read_local(value: str, roots: Sequence[Path], max_bytes: int) -> bytes:
    """Confine, open in one step (see `confine`), stat, then read a local file.

    Blocking: run in a worker thread.
    """
    allowed = [Path(r).expanduser().resolve() for r in roots]
    try:
        root, resolved = resolve_inside(value, roots)
    except Outside:
        raise refuse(value, "is outside the folders images may come from", _roots_fix(allowed)) from None
    except (OSError, RuntimeError, ValueError):
        raise refuse(value, "could not be resolved", "Pass a plain path to an image file.") from None
    try:
        fd = open_confined(root, resolved)
    except FileNotFoundError:
        raise refuse(
            value, "does not exist", "Check the path (relative paths start at the working directory)."
        ) from None
    except IsADirectoryError:
        raise refuse(
            value, "is a directory, not an image file", "Pass the path of a JPEG, PNG or WebP file."
        ) from None
    except Moved:
        raise refuse(
            value,
            "changed while it was being opened (a folder or the file became a link)",
            _roots_fix(allowed),
        ) from None
    except OSError:
        raise refuse(value, "could not be opened", "Check that the file is readable.") from None
    # fstat before fdopen: fdopen refuses a directory with its own error.
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
        raise refuse(value, f"is {kind}, not an image file", "Pass the path of a JPEG, PNG or WebP file.")
    with os.fdopen(fd, "rb") as fh:
        _check_size(value, st.st_size, max_bytes)
        data = fh.read(max_bytes + 1)
    _check_size(value, len(data), max_bytes)
    return data


def _check_size(value: str, size: int, max_bytes: int) -> None:
    if size == 0:
        raise refuse(value, "is empty", "Pass a JPEG, PNG or WebP image.")
    if size > max_bytes:
        raise refuse(
            value,
            f"is {size / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB",
            "Use a smaller image (resize it or save it as JPEG).",
        )


def _decode_data_url(value: str, max_bytes: int) -> bytes:
    m = _DATA_URL.match(value)
    if not m:
        raise refuse(
            value, "is not a base64 image data URL", "Use data:image/png;base64,... (png, jpeg or webp)."
        )
    if m.group(1).lower() not in ("image/png", "image/jpeg", "image/jpg", "image/webp"):
        raise refuse(value, f"has type {m.group(1)}", "Use a PNG, JPEG or WebP image.")
    payload = re.sub(r"\s+", "", m.group(2))
    if len(payload) * 3 // 4 > max_bytes + 3:
        _check_size(value, len(payload) * 3 // 4, max_bytes)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise refuse(value, "does not contain valid base64", "Re-encode the image as base64.") from None


@asynccontextmanager
async def prepare_reference(
    value: str,
    *,
    roots: Sequence[Path],
    target_size: str,
    tmp_dir: Path,
    max_bytes: int = MAX_BYTES,
    check_faces: bool = True,
    max_image_bytes: int = MAX_IMAGE_BYTES,
    limiter: anyio.CapacityLimiter | None = None,
) -> AsyncIterator[PreparedReference]:
    """Validate `value` and yield a `PreparedReference`; any temp file is removed on exit.

    `limiter` bounds how many references are read and decoded at once (the memory-heavy part);
    the prepared temp file is then held outside it, for as long as the upload takes.
    """
    value = (value or "").strip()
    if not value:
        raise InvalidInput(
            "input_reference is empty.", fix="Pass a path, an https URL, a data: URL or a file id."
        )
    target = _parse_size(target_size)
    if _FILE_ID.match(value):
        yield PreparedReference(kind="file_id", file_id=value)
        return
    lowered = value.lower()
    if lowered.startswith("https://"):
        parts = urlsplit(value)
        if not parts.hostname or any(ch.isspace() for ch in value):
            raise refuse(value, "is not a valid URL", "Pass a complete https:// URL to an image.")
        if _internal_host(parts.hostname):
            raise refuse(
                value,
                "points at a local, private or link-local address",
                "Pass a public https URL, or save the image in an allowed folder and pass its path.",
            )
        yield PreparedReference(kind="image_url", image_url=value)
        return
    if lowered.startswith("http://"):
        raise refuse(
            value,
            "uses plain http",
            "Use an https:// URL, or save the image in the working directory and pass its path.",
        )
    if _SCHEME.match(value):
        raise refuse(
            value, "uses an unsupported URL scheme", "Use https://, data:image/..., a file id or a path."
        )

    tmp_dir.mkdir(parents=True, exist_ok=True)
    temp: Path | None = None
    try:
        async with limiter if limiter is not None else contextlib.nullcontext():
            if lowered.startswith("data:"):
                data = _decode_data_url(value, max_bytes)
                _check_size("data: URL", len(data), max_bytes)
                shown = value[:40]
            else:
                data = await anyio.to_thread.run_sync(_read_local, value, roots, max_bytes)
                shown = value
            digest = hashlib.sha256(data).hexdigest()
            fmt = magic_format(data)
            ext = FORMATS[fmt][1] if fmt else ".bin"
            temp = tmp_dir / f"reference-{secrets.token_hex(8)}{ext}"
            fmt_name, mime, width, height, fitted = await anyio.to_thread.run_sync(
                verify_and_fit, shown, data, target, temp, max_image_bytes
            )
            del data
            if check_faces and guardrails.faces_available():
                await anyio.to_thread.run_sync(guardrails.check_faces, temp)
        yield PreparedReference(
            kind="file",
            path=temp,
            filename=f"reference{FORMATS[fmt_name][1]}",
            mime_type=mime,
            sha256=digest,
            width=width,
            height=height,
            fitted=fitted,
        )
    finally:
        # Runs on success, error and cancellation alike; a worker thread has finished by now.
        if temp is not None:
            temp.unlink(missing_ok=True)

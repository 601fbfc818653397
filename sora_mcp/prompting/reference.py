"""Turn an `input_reference` argument into something safe to upload, and clean up after it.

Accepted forms: a `file-...` id, an `https://` URL (passed on, never downloaded), a
`data:image/...;base64,` URL, or a local path. Local paths must resolve (symlinks too) inside
the allowed roots and be a regular file no larger than the limit, checked with `stat` before a
single byte is read. Bytes must really be JPEG, PNG or WebP, and their pixel count is checked
from the header before decoding, so bombs are refused cheaply. The verified bytes are always
copied (and fitted to the target size when needed) into a temp file that is removed when the
context exits, whatever happens; the upload therefore sends exactly the bytes that were checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import secrets
import stat
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import anyio
from pydantic import BaseModel

from sora_mcp.errors import InvalidInput
from sora_mcp.prompting import guardrails

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
_FILE_ID = re.compile(r"^file-[A-Za-z0-9_-]{1,200}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.IGNORECASE | re.DOTALL)
_FORMATS = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"), "WEBP": ("image/webp", ".webp")}


def _roots_fix(roots: Sequence[Path]) -> str:
    # Name the folders: an agent cannot guess what "the working directory" is on this host.
    return (f"Put the image inside one of the allowed folders ({', '.join(str(r) for r in roots)}; "
            "SORA_MCP_ALLOWED_ROOTS sets them), or pass an https URL or a file id.")


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


def _shown(value: str) -> str:
    # The user's own spelling (never the resolved host path), printable and bounded.
    text = "".join(ch if ch.isprintable() else "?" for ch in value)
    return text if len(text) <= 120 else text[:117] + "..."


def _refuse(value: str, problem: str, fix: str) -> InvalidInput:
    return InvalidInput(f"input_reference '{_shown(value)}' {problem}.", fix=fix)


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


def _what_is_it(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        return "a ZIP archive"
    if data.startswith(b"%PDF"):
        return "a PDF document"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "a GIF image"
    try:
        data[:512].decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "an unknown kind of file"


def _magic_format(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _read_local(value: str, roots: Sequence[Path], max_bytes: int) -> bytes:
    """Resolve, confine, stat, then read a local file (blocking: run in a worker thread)."""
    allowed = [Path(r).expanduser().resolve() for r in roots]
    try:
        # Confinement first (non-strict resolve), so a missing file outside the roots reads as
        # "outside" and existence of host paths cannot be probed.
        loose = Path(value).expanduser().resolve(strict=False)
    except (OSError, RuntimeError, ValueError):
        raise _refuse(value, "could not be resolved", "Pass a plain path to an image file.") from None
    if not any(loose.is_relative_to(root) for root in allowed):
        raise _refuse(value, "is outside the folders images may come from", _roots_fix(allowed))
    try:
        resolved = Path(value).expanduser().resolve(strict=True)
    except FileNotFoundError:
        raise _refuse(
            value, "does not exist", "Check the path (relative paths start at the working directory)."
        ) from None
    except (OSError, RuntimeError, ValueError):
        raise _refuse(value, "could not be resolved", "Pass a plain path to an image file.") from None
    if not any(resolved.is_relative_to(root) for root in allowed):
        raise _refuse(value, "is outside the folders images may come from", _roots_fix(allowed))
    try:
        st = os.stat(resolved)
    except OSError:
        raise _refuse(value, "could not be read", "Check that the file is readable.") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
        raise _refuse(value, f"is {kind}, not an image file", "Pass the path of a JPEG, PNG or WebP file.")
    _check_size(value, st.st_size, max_bytes)
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO after the stat, open must not hang.
        fd = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise _refuse(value, "could not be opened", "Check that the file is readable.") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(value, "is not a regular file", "Pass the path of a JPEG, PNG or WebP file.")
        _check_size(value, st.st_size, max_bytes)
        data = fh.read(max_bytes + 1)
    _check_size(value, len(data), max_bytes)
    return data


def _check_size(value: str, size: int, max_bytes: int) -> None:
    if size == 0:
        raise _refuse(value, "is empty", "Pass a JPEG, PNG or WebP image.")
    if size > max_bytes:
        raise _refuse(
            value,
            f"is {size / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB",
            "Use a smaller image (resize it or save it as JPEG).",
        )


def _decode_data_url(value: str, max_bytes: int) -> bytes:
    m = _DATA_URL.match(value)
    if not m:
        raise _refuse(
            value, "is not a base64 image data URL", "Use data:image/png;base64,... (png, jpeg or webp)."
        )
    if m.group(1).lower() not in ("image/png", "image/jpeg", "image/jpg", "image/webp"):
        raise _refuse(value, f"has type {m.group(1)}", "Use a PNG, JPEG or WebP image.")
    payload = re.sub(r"\s+", "", m.group(2))
    if len(payload) * 3 // 4 > max_bytes + 3:
        _check_size(value, len(payload) * 3 // 4, max_bytes)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(value, "does not contain valid base64", "Re-encode the image as base64.") from None


def _verify_and_fit(
    value: str, data: bytes, target: tuple[int, int], dest: Path
) -> tuple[str, str, int, int, bool]:
    """Check the bytes are a sane JPEG/PNG/WebP, then write them (fitted if needed) to `dest`.

    Returns (format, mime, width, height, fitted) with the source image's dimensions.
    Blocking: run in a worker thread.
    """
    from PIL import Image, ImageOps  # Pillow is heavy to import; only needed here

    fmt = _magic_format(data)
    if fmt is None:
        raise _refuse(
            value,
            f"is not a JPEG, PNG or WebP image (its bytes look like {_what_is_it(data)})",
            "Pass a real image.",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        width, height = MAX_PIXELS + 1, 1
    except Exception:  # noqa: BLE001 - Pillow raises many types (OSError, SyntaxError, ...) on bad input
        raise _refuse(value, "could not be read as an image", "Re-save it as PNG or JPEG.") from None
    if width * height > MAX_PIXELS:
        raise _refuse(
            value,
            f"is too large in pixels (over {MAX_PIXELS // 1_000_000} megapixels; a possible decompression bomb)",
            "Resize it to the video size first (e.g. 1280x720).",
        )
    try:
        image.load()
        # Fit what the viewer sees: a phone photo's EXIF rotation is applied before cropping.
        rotated = image.getexif().get(0x0112, 1) not in (0, 1)
        upright = ImageOps.exif_transpose(image) if rotated else image
    except Exception:  # noqa: BLE001 - as above: any decoder failure means a damaged file
        raise _refuse(value, "is damaged and could not be decoded", "Re-save it as PNG or JPEG.") from None
    mime, _ = _FORMATS[fmt]
    width, height = upright.size
    if upright.size == target and not rotated:
        dest.write_bytes(data)
        return fmt, mime, width, height, False
    fitted = ImageOps.fit(_rgb_like(upright), target, method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    if fmt == "JPEG":
        fitted.convert("RGB").save(dest, format="JPEG", quality=95)
    else:
        fitted.save(dest, format=fmt, **({"quality": 95} if fmt == "WEBP" else {}))
    return fmt, mime, width, height, True


def _rgb_like(image):  # type: ignore[no-untyped-def]
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    wanted = "RGBA" if has_alpha else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


@asynccontextmanager
async def prepare_reference(
    value: str,
    *,
    roots: Sequence[Path],
    target_size: str,
    tmp_dir: Path,
    max_bytes: int = MAX_BYTES,
    check_faces: bool = True,
) -> AsyncIterator[PreparedReference]:
    """Validate `value` and yield a `PreparedReference`; any temp file is removed on exit."""
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
            raise _refuse(value, "is not a valid URL", "Pass a complete https:// URL to an image.")
        if _internal_host(parts.hostname):
            raise _refuse(value, "points at a local, private or link-local address",
                          "Pass a public https URL, or save the image in an allowed folder and pass its path.")
        yield PreparedReference(kind="image_url", image_url=value)
        return
    if lowered.startswith("http://"):
        raise _refuse(
            value,
            "uses plain http",
            "Use an https:// URL, or save the image in the working directory and pass its path.",
        )
    if _SCHEME.match(value):
        raise _refuse(
            value, "uses an unsupported URL scheme", "Use https://, data:image/..., a file id or a path."
        )

    if lowered.startswith("data:"):
        data = _decode_data_url(value, max_bytes)
        _check_size("data: URL", len(data), max_bytes)
        shown = value[:40]
    else:
        data = await anyio.to_thread.run_sync(_read_local, value, roots, max_bytes)
        shown = value
    digest = hashlib.sha256(data).hexdigest()
    fmt = _magic_format(data)
    ext = _FORMATS[fmt][1] if fmt else ".bin"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    temp = tmp_dir / f"reference-{secrets.token_hex(8)}{ext}"
    try:
        fmt_name, mime, width, height, fitted = await anyio.to_thread.run_sync(
            _verify_and_fit, shown, data, target, temp
        )
        if check_faces and guardrails.faces_available():
            await anyio.to_thread.run_sync(guardrails.check_faces, temp)
        yield PreparedReference(
            kind="file",
            path=temp,
            filename=f"reference{_FORMATS[fmt_name][1]}",
            mime_type=mime,
            sha256=digest,
            width=width,
            height=height,
            fitted=fitted,
        )
    finally:
        # Runs on success, error and cancellation alike; a worker thread has finished by now.
        temp.unlink(missing_ok=True)

"""Turn an `input_reference` argument into something safe to upload, and clean up after it.

Accepted forms: a `file-...` id, an `https://` URL (passed on, never downloaded), a
`data:image/...;base64,` URL, or a local path. Local paths must resolve (symlinks too) inside
the allowed roots and are opened in the same step (`confine`: no folder can be swapped for a
link in between); they must be a regular file no larger than the limit, checked with `fstat`
before a single byte is read. Bytes must really be JPEG, PNG or WebP; their pixel count and
decoded size (pixels x bytes per pixel, so a 16-bit PNG counts double) are checked from the
header before decoding, so bombs are refused cheaply, and JPEGs are decoded reduced when the
target is smaller. A limiter bounds how many references are decoded at once. The verified bytes are always
copied (and fitted to the target size when needed) into a temp file that is removed when the
context exits, whatever happens; the upload therefore sends exactly the bytes that were checked.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
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
from sora_mcp.prompting.confine import Moved, Outside, open_confined, resolve_inside

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 256 * 1024 * 1024
_FILE_ID = re.compile(r"^file-[A-Za-z0-9_-]{1,200}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,(.*)$", re.IGNORECASE | re.DOTALL)
_FORMATS = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"), "WEBP": ("image/webp", ".webp")}


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
    """Confine, open in one step (see `confine`), stat, then read a local file.

    Blocking: run in a worker thread.
    """
    allowed = [Path(r).expanduser().resolve() for r in roots]
    try:
        root, resolved = resolve_inside(value, roots)
    except Outside:
        raise _refuse(value, "is outside the folders images may come from", _roots_fix(allowed)) from None
    except (OSError, RuntimeError, ValueError):
        raise _refuse(value, "could not be resolved", "Pass a plain path to an image file.") from None
    try:
        fd = open_confined(root, resolved)
    except FileNotFoundError:
        raise _refuse(
            value, "does not exist", "Check the path (relative paths start at the working directory)."
        ) from None
    except IsADirectoryError:
        raise _refuse(
            value, "is a directory, not an image file", "Pass the path of a JPEG, PNG or WebP file."
        ) from None
    except Moved:
        raise _refuse(
            value,
            "changed while it was being opened (a folder or the file became a link)",
            _roots_fix(allowed),
        ) from None
    except OSError:
        raise _refuse(value, "could not be opened", "Check that the file is readable.") from None
    # fstat before fdopen: fdopen refuses a directory with its own error.
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
        raise _refuse(value, f"is {kind}, not an image file", "Pass the path of a JPEG, PNG or WebP file.")
    with os.fdopen(fd, "rb") as fh:
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
    value: str, data: bytes, target: tuple[int, int], dest: Path, max_image_bytes: int = MAX_IMAGE_BYTES
) -> tuple[str, str, int, int, bool]:
    """Check the bytes are a sane JPEG/PNG/WebP, then write them (fitted if needed) to `dest`.

    The decoded size (pixels x bytes per pixel, see `decode_cost`) is checked from the header
    before a pixel is decoded; a JPEG larger than needed is decoded reduced (`draft`: 1/2 to 1/8
    scale straight from the DCT), so a huge photo costs what its target size costs.
    Returns (format, mime, width, height, fitted) with the source image's dimensions.
    Blocking: run in a worker thread.
    """
    from PIL import Image, ImageOps  # Pillow is heavy to import; only needed here

    _give_back_freed_images()
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
        # A JPEG's EXIF sits before its pixels (cheap to read); a PNG's or WebP's may follow them,
        # so Pillow decodes the whole image to find it: read theirs only after the budget check.
        orientation = image.getexif().get(0x0112, 1) if fmt == "JPEG" else 1
        quarter = orientation in (5, 6, 7, 8)  # quarter turns swap the axes the target is measured on
        if fmt == "JPEG" and ((width, height) != target or orientation not in (0, 1)):
            image.draft("RGB", (target[1], target[0]) if quarter else target)
    except Exception:  # noqa: BLE001 - as above
        raise _refuse(value, "could not be read as an image", "Re-save it as PNG or JPEG.") from None
    cost = decode_cost(image, fits=(width, height) != target)
    if cost > max_image_bytes:
        raise _refuse(
            value,
            f"would take {cost / 1048576:.0f} MB of memory to decode ({width}x{height}, {_depth(image)}); "
            f"the limit is {max_image_bytes / 1048576:.0f} MB",
            "Resize it to the video size first (e.g. 1280x720), or save it as an 8-bit JPEG or PNG.",
        )
    try:
        image.load()
        if fmt != "JPEG":
            orientation = image.getexif().get(0x0112, 1)
            quarter = orientation in (5, 6, 7, 8)
        rotated = orientation not in (0, 1)
        upright = ImageOps.exif_transpose(image) if rotated else image
    except Exception:  # noqa: BLE001 - as above: any decoder failure means a damaged file
        raise _refuse(value, "is damaged and could not be decoded", "Re-save it as PNG or JPEG.") from None
    unchanged = (width, height) == target and not rotated
    if quarter:
        width, height = height, width
    mime, _ = _FORMATS[fmt]
    if unchanged:
        dest.write_bytes(data)
        return fmt, mime, width, height, False
    source = _rgb_like(upright)
    del image, upright  # the full-size decode is dropped as soon as a smaller copy exists
    # Halve repeatedly in one box-filter pass down to ~2x the target (cheap, keeps LANCZOS quality).
    factor = min(source.width // (2 * target[0]), source.height // (2 * target[1]))
    if factor >= 2:
        source = source.reduce(factor)
    fitted = ImageOps.fit(source, target, method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    del source
    if fmt == "JPEG":
        fitted.convert("RGB").save(dest, format="JPEG", quality=95)
    else:
        fitted.save(dest, format=fmt, **({"quality": 95} if fmt == "WEBP" else {}))
    return fmt, mime, width, height, True


@functools.cache
def _give_back_freed_images() -> None:
    """Return a decoded image's memory to the system when it is freed (glibc only, once).

    Pillow allocates images in 16 MB blocks. glibc serves a freed large block's size from the
    heap from then on (its mmap threshold adapts upward), and every worker thread has its own
    heap arena, so each thread that ever decoded a big image kept ~200 MB resident: the RSS
    "never given back". A fixed threshold keeps blocks of 1 MiB and up mmap-backed, so free()
    unmaps them at once.
    """
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


# Bytes Pillow keeps per pixel for each mode (3-channel modes are stored 4 bytes wide).
_MODE_BYTES = {
    "1": 1,
    "L": 1,
    "P": 1,
    "PA": 4,
    "LA": 4,
    "La": 4,
    "RGB": 4,
    "RGBA": 4,
    "RGBa": 4,
    "RGBX": 4,
    "CMYK": 4,
    "YCbCr": 4,
    "LAB": 4,
    "HSV": 4,
    "I": 4,
    "F": 4,
    "I;16": 2,
    "I;16B": 2,
    "I;16L": 2,
}
_CHANNELS = {
    "1": 1,
    "L": 1,
    "P": 1,
    "I": 1,
    "F": 1,
    "LA": 2,
    "La": 2,
    "PA": 2,
    "RGB": 3,
    "YCbCr": 3,
    "LAB": 3,
    "HSV": 3,
    "RGBA": 4,
    "RGBa": 4,
    "RGBX": 4,
    "CMYK": 4,
}


def _bits(image) -> int:  # type: ignore[no-untyped-def]
    """Bits per channel of the source (16 for a 16-bit PNG, whose rows are unpacked from 16 bits)."""
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return 16 if image.mode.startswith("I;16") else 32
    return 16 if any(";16" in str(getattr(tile, "args", tile)) for tile in (image.tile or [])) else 8


def _depth(image) -> str:  # type: ignore[no-untyped-def]
    return f"{_bits(image)}-bit {image.mode}"


def decode_cost(image, *, fits: bool = True) -> int:  # type: ignore[no-untyped-def]
    """Bytes decoding `image` (at its current, possibly draft-reduced size) may hold at once.

    The decoded buffer (Pillow's bytes per pixel for its mode, or the source's own bytes per
    pixel when wider: 16-bit samples cost twice), plus an RGB(A) copy when fitting needs one.
    """
    pixels = image.width * image.height
    mode = image.mode
    stored = _MODE_BYTES.get(mode, 4)
    source = _CHANNELS.get(mode, 1) * _bits(image) // 8
    per_pixel = max(stored, source)
    if fits and mode not in ("RGB", "RGBA"):
        per_pixel += 4  # converted to RGB(A) before resizing
    return pixels * per_pixel


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
            raise _refuse(value, "is not a valid URL", "Pass a complete https:// URL to an image.")
        if _internal_host(parts.hostname):
            raise _refuse(
                value,
                "points at a local, private or link-local address",
                "Pass a public https URL, or save the image in an allowed folder and pass its path.",
            )
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
            fmt = _magic_format(data)
            ext = _FORMATS[fmt][1] if fmt else ".bin"
            temp = tmp_dir / f"reference-{secrets.token_hex(8)}{ext}"
            fmt_name, mime, width, height, fitted = await anyio.to_thread.run_sync(
                _verify_and_fit, shown, data, target, temp, max_image_bytes
            )
            del data
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
        if temp is not None:
            temp.unlink(missing_ok=True)

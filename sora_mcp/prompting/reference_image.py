"""An input reference's image bytes: told apart by their magic bytes, checked, then fitted.

Pixel count and decoded size (pixels x bytes per pixel, so a 16-bit PNG counts double) are
checked from the header before a pixel is decoded, so bombs are refused cheaply; a JPEG larger
than needed is decoded reduced; the result is written (fitted to the video size when needed) to
the temp file the upload sends. Pillow work, blocking: `verify_and_fit` runs in a worker thread.
"""

from __future__ import annotations

import functools
import io
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from sora_mcp.errors import InvalidInput

if TYPE_CHECKING:
    from PIL import Image, ImageFile

MAX_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 256 * 1024 * 1024
FORMATS = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"), "WEBP": ("image/webp", ".webp")}


def _shown(value: str) -> str:
    # The user's own spelling (never the resolved host path), printable and bounded.
    text = "".join(ch if ch.isprintable() else "?" for ch in value)
    return text if len(text) <= 120 else text[:117] + "..."


def refuse(value: str, problem: str, fix: str) -> InvalidInput:
    return InvalidInput(f"input_reference '{_shown(value)}' {problem}.", fix=fix)


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


def magic_format(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def verify_and_fit(
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
    fmt = magic_format(data)
    if fmt is None:
        raise refuse(
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
        raise refuse(value, "could not be read as an image", "Re-save it as PNG or JPEG.") from None
    if width * height > MAX_PIXELS:
        raise refuse(
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
        raise refuse(value, "could not be read as an image", "Re-save it as PNG or JPEG.") from None
    cost = decode_cost(image, fits=(width, height) != target)
    if cost > max_image_bytes:
        raise refuse(
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
        raise refuse(value, "is damaged and could not be decoded", "Re-save it as PNG or JPEG.") from None
    unchanged = (width, height) == target and not rotated
    if quarter:
        width, height = height, width
    mime, _ = FORMATS[fmt]
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


def _bits(image: ImageFile.ImageFile) -> int:
    """Bits per channel of the source (16 for a 16-bit PNG, whose rows are unpacked from 16 bits)."""
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        return 16 if image.mode.startswith("I;16") else 32
    return 16 if any(";16" in str(getattr(tile, "args", tile)) for tile in (image.tile or [])) else 8


def _depth(image: ImageFile.ImageFile) -> str:
    return f"{_bits(image)}-bit {image.mode}"


def decode_cost(image: ImageFile.ImageFile, *, fits: bool = True) -> int:
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


def _rgb_like(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    wanted = "RGBA" if has_alpha else "RGB"
    return image if image.mode == wanted else image.convert(wanted)

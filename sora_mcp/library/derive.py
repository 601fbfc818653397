"""Make the thumbnail (WebP) and spritesheet (JPEG grid) from an archived MP4 ourselves.

For backends that serve only the video. Frames are decoded with PyAV one at a time (a seek
for the thumbnail, one streaming pass for the sheet), so memory stays flat whatever the
clip's length. Output is written to a temp file and renamed into place. CPU-bound and
synchronous: call through `anyio.to_thread.run_sync` from async code.
"""

from __future__ import annotations

import hashlib
import math
import os
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from sora_mcp.errors import BackendError
from sora_mcp.library.downloads import DownloadResult
from sora_mcp.library.tempfiles import atomic_replace, temp_path

_DAMAGED_FIX = "Download the video again (the archived copy may be damaged), then retry."


def _duration_s(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    if stream.frames and stream.average_rate:
        return float(stream.frames / stream.average_rate)
    return 0.0


def _open(mp4: Path) -> tuple[av.container.InputContainer, av.VideoStream]:
    try:
        container = av.open(str(mp4))
    except (av.FFmpegError, OSError):
        raise BackendError("The archived video could not be opened.", fix=_DAMAGED_FIX) from None
    if not container.streams.video:
        container.close()
        raise BackendError("The archived file has no video track.", fix=_DAMAGED_FIX)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _frame_time(frame: av.VideoFrame) -> float:
    return float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else 0.0


def _save(
    image: Image.Image, dest: Path, tmp_dir: Path | None, fmt: str, mime: str, variant: str, **options: object
) -> DownloadResult:
    with temp_path(tmp_dir or dest.parent, dest.suffix) as tmp:
        image.save(tmp, format=fmt, **options)
        with open(tmp, "rb+") as fh:
            data = fh.read()  # images are small; hash what will be renamed into place
            os.fsync(fh.fileno())
        atomic_replace(tmp, dest)
    return DownloadResult(
        path=dest,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type=mime,
        served_variant=variant,
    )


def derive_thumbnail(
    mp4: Path, dest: Path, *, tmp_dir: Path | None = None, at: float = 1 / 3
) -> DownloadResult:
    """A WebP of the frame about `at` of the way in (default one third)."""
    container, stream = _open(mp4)
    try:
        target = _duration_s(container, stream) * at
        if target > 0 and stream.time_base:
            # Seek lands on the keyframe before `target`; decode forward to the frame itself.
            container.seek(int(Fraction(target) / stream.time_base), stream=stream, backward=True)
        chosen: av.VideoFrame | None = None
        for frame in container.decode(stream):
            chosen = frame
            if _frame_time(frame) >= target:
                break
        if chosen is None:
            raise BackendError("The archived video has no decodable frame.", fix=_DAMAGED_FIX)
        image = chosen.to_image(threads=1)  # swscale "auto" threads start a pool per call
    except av.FFmpegError:
        raise BackendError("The archived video could not be decoded.", fix=_DAMAGED_FIX) from None
    finally:
        container.close()
    return _save(image, dest, tmp_dir, "WEBP", "image/webp", "thumbnail", quality=80)


def derive_spritesheet(
    mp4: Path, dest: Path, tiles: int = 16, *, tmp_dir: Path | None = None, tile_width: int = 160
) -> DownloadResult:
    """A JPEG grid (near-square, row by row) of `tiles` evenly spaced frames."""
    tiles = max(1, min(int(tiles), 100))
    container, stream = _open(mp4)
    cols = math.ceil(math.sqrt(tiles))
    rows = math.ceil(tiles / cols)
    sheet: Image.Image | None = None
    placed = 0
    try:
        duration = _duration_s(container, stream)
        targets = [(i + 0.5) * duration / tiles for i in range(tiles)]
        last: av.VideoFrame | None = None
        tile_size = (tile_width, tile_width)
        for frame in container.decode(stream):
            last = frame
            if sheet is None:
                tile_size = (tile_width, max(1, round(tile_width * frame.height / frame.width)))
                sheet = Image.new("RGB", (tile_size[0] * cols, tile_size[1] * rows))
            while placed < tiles and _frame_time(frame) >= targets[placed]:
                _place(sheet, frame, placed, cols, tile_size)
                placed += 1
            if placed == tiles:
                break
        if sheet is None or last is None:
            raise BackendError("The archived video has no decodable frame.", fix=_DAMAGED_FIX)
        while placed < tiles:  # timestamps past the last frame (rounding): repeat the last one
            _place(sheet, last, placed, cols, tile_size)
            placed += 1
    except av.FFmpegError:
        raise BackendError("The archived video could not be decoded.", fix=_DAMAGED_FIX) from None
    finally:
        container.close()
    return _save(sheet, dest, tmp_dir, "JPEG", "image/jpeg", "spritesheet", quality=85)


def _place(sheet: Image.Image, frame: av.VideoFrame, index: int, cols: int, tile: tuple[int, int]) -> None:
    image = frame.to_image(threads=1).convert("RGB").resize(tile, Image.Resampling.BILINEAR)
    sheet.paste(image, ((index % cols) * tile[0], (index // cols) * tile[1]))

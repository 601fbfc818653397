"""Read the renderer's inputs: a reference image, and the clip an extension or edit starts from.

Every decode failure becomes a `RenderError` naming the file (by name only) and the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from sora_mcp.engine.render.audio import decode_audio
from sora_mcp.engine.render.layers import SWS_THREADS, planes_of
from sora_mcp.engine.render.spec import RenderError

T = TypeVar("T")


def guarded(path: Path, action: Callable[[], T]) -> T:
    """Run a decode step on `path`, turning any decoder failure into a RenderError."""
    try:
        return action()
    except (av.error.FFmpegError, OSError, ValueError, IndexError, StopIteration) as exc:
        if isinstance(exc, RenderError):
            raise
        raise RenderError(
            f"The source video '{Path(path).name}' could not be decoded ({type(exc).__name__}): "
            "use an MP4 produced by this engine or another readable H.264 clip."
        ) from None


def count_frames(path: Path) -> int:
    """Decoded video frames in the clip (decoding, not metadata: metadata can be absent or wrong)."""

    def count() -> int:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return 0
            return sum(1 for _ in container.decode(video=0))

    frames = guarded(path, count)
    if frames == 0:
        raise RenderError(f"The source video '{Path(path).name}' has no video frames: use a clip with video.")
    return frames


def source_frames(path: Path, width: int, height: int, count: int) -> Iterator[av.VideoFrame]:
    """The clip's first `count` frames as fresh yuv420p frames at the output size."""
    container = guarded(path, lambda: av.open(str(path)))
    try:
        decoded = container.decode(video=0)
        for _ in range(count):
            frame = guarded(path, lambda: next(decoded))
            if frame.width != width or frame.height != height or frame.format.name != "yuv420p":
                frame = frame.reformat(width=width, height=height, format="yuv420p", threads=SWS_THREADS)
            out = av.VideoFrame(width, height, "yuv420p")
            for dst, src in zip(planes_of(out), planes_of(frame)):
                dst[...] = src
            yield out
    finally:
        container.close()


def has_audio_track(path: Path) -> bool:
    """Whether the clip has an audio stream (what `source_audio` returns None for when not)."""

    def check() -> bool:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)

    return guarded(path, check)


def source_audio(path: Path, seconds: float) -> np.ndarray | None:
    return guarded(path, lambda: decode_audio(path, seconds))


def reference_image(path: Path) -> Image.Image:
    """The input reference, fully loaded (so the file is closed before rendering starts)."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise RenderError(
            f"The input reference '{Path(path).name}' is not a readable image ({type(exc).__name__}): "
            "upload a JPEG, PNG or WebP file."
        ) from None


def first_frame(path: Path) -> Image.Image:
    """An edit's backdrop: the source clip's first frame."""

    def first() -> Image.Image:
        with av.open(str(path)) as container:
            return next(iter(container.decode(video=0))).to_image(threads=SWS_THREADS)

    return guarded(path, first)

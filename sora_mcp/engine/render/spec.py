"""The renderer's request and result types, its one error, and the checks run before any work.

The helpers that read inputs (`sources`) raise `RenderError` from here; the package entry
re-exports the types.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_SIDE = 4096
MAX_SECONDS = 120


class RenderError(ValueError):
    """The spec cannot be rendered; the message says why and what to change (never a host path)."""


@dataclass(frozen=True)
class RenderSpec:
    """What to render. `seconds` is the finished clip's length (for an extension: the stitched total)."""

    prompt: str
    width: int
    height: int
    seconds: int
    seed: int
    fps: int = 24
    input_reference: Path | None = None  # image fitted (centre-crop + resize) as the background plate
    source_video: Path | None = None  # extension: this clip, then a new segment continuing its last frame
    edit_of: Path | None = None  # edit: re-render per the prompt over this clip's first frame

    @property
    def frames(self) -> int:
        return self.seconds * self.fps


@dataclass(frozen=True)
class RenderResult:
    video: Path
    thumbnail: Path
    spritesheet: Path
    frames: int
    has_audio: bool


def validate(spec: RenderSpec) -> None:
    """Raise RenderError for a spec the encoder cannot honour, before any file is written."""
    if not isinstance(spec.prompt, str):
        raise RenderError("prompt must be text: pass the prompt as a string.")
    for name, value in (("width", spec.width), ("height", spec.height)):
        if not isinstance(value, int) or not 16 <= value <= MAX_SIDE or value % 2:
            raise RenderError(
                f"{name} {value!r} is not renderable: use an even number of pixels from 16 to {MAX_SIDE}."
            )
    if not isinstance(spec.seconds, int) or not 1 <= spec.seconds <= MAX_SECONDS:
        raise RenderError(
            f"seconds {spec.seconds!r} is not renderable: use a whole number from 1 to {MAX_SECONDS}."
        )
    if not isinstance(spec.fps, int) or not 1 <= spec.fps <= 60:
        raise RenderError(f"fps {spec.fps!r} is not renderable: use a whole number from 1 to 60.")
    if not isinstance(spec.seed, int):
        raise RenderError(f"seed {spec.seed!r} is not an integer: pass a whole number.")
    inputs = (
        ("input reference", spec.input_reference),
        ("source video", spec.source_video),
        ("edit source", spec.edit_of),
    )
    for label, path in inputs:
        if path is not None and not Path(path).is_file():
            raise RenderError(f"The {label} file '{Path(path).name}' does not exist: pass an existing file.")

"""One model's rules (`ModelSpec`: sizes, durations, features, prices, where the values came from)
and the normalised forms of a request's size and duration that the catalog checks against them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sora_mcp.errors import InvalidInput

Feature = Literal["remix", "extend", "edit", "input_reference", "audio"]
SIZE_RE = re.compile(r"^\d{2,5}x\d{2,5}$")


class Supports(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remix: bool = False
    extend: bool = False
    edit: bool = False
    input_reference: bool = False
    audio: bool = False


def _seconds_list(value: object) -> object:
    # Catalog files may write durations as numbers; they are strings on the wire.
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


class ModelSpec(BaseModel):
    """One model's rules. Durations are either a `seconds` list or a frame limit (`max_frames` at `fps`)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    family: str = "other"
    backends: list[str] = Field(default_factory=list, description="Dialects that typically serve it.")
    description: str | None = None
    sizes: list[str] = Field(min_length=1)
    size_multiple_of: int | None = Field(default=None, gt=0)
    seconds: list[str] | None = None
    max_frames: int | None = Field(default=None, gt=0)
    fps: int | None = Field(default=None, gt=0)
    extend_seconds: list[str] | None = None
    max_prompt_chars: int | None = Field(default=None, gt=0)
    supports: Supports = Field(default_factory=Supports)
    price_usd_per_second: dict[str, float] = Field(default_factory=dict)
    source: str = Field(min_length=1, description="Where the values came from.")
    verified: bool = True

    @field_validator("seconds", "extend_seconds", mode="before")
    @classmethod
    def _norm_seconds(cls, value: object) -> object:
        return _seconds_list(value)

    @field_validator("sizes")
    @classmethod
    def _sizes_look_right(cls, sizes: list[str]) -> list[str]:
        bad = [s for s in sizes if not SIZE_RE.match(s)]
        if bad:
            raise ValueError(f"sizes must look like '1280x720' (got {', '.join(bad)})")
        return sizes

    @model_validator(mode="after")
    def _has_durations(self) -> ModelSpec:
        if not self.seconds and not (self.max_frames and self.fps):
            raise ValueError("give either 'seconds' (a list) or both 'max_frames' and 'fps'")
        for s in (self.seconds or []) + (self.extend_seconds or []):
            if not s.isdigit():
                raise ValueError(f"seconds must be whole numbers (got {s!r})")
        return self

    @property
    def max_seconds(self) -> int:
        if self.seconds:
            return max(int(s) for s in self.seconds)
        assert self.max_frames and self.fps
        return self.max_frames // self.fps

    def allowed_seconds_text(self) -> str:
        if self.seconds:
            return ", ".join(self.seconds)
        return f"1 to {self.max_seconds} (at most {self.max_frames} frames at {self.fps} fps)"

    def size_allowed(self, size: str) -> bool:
        if size in self.sizes:
            return True
        if not self.size_multiple_of:
            return False
        w, h = (int(x) for x in size.split("x"))
        largest = max(int(a) * int(b) for a, b in (s.split("x") for s in self.sizes))
        m = self.size_multiple_of
        return w % m == 0 and h % m == 0 and w * h <= largest


class ValidatedRequest(BaseModel):
    """A request that passed the catalog's checks, with `seconds` normalised to a string."""

    model: str
    size: str | None
    seconds: str | None
    known: bool = Field(
        description="False when the model is not in the catalog (only basic checks were made)."
    )
    note: str | None = None


def normalise_seconds(seconds: int | str) -> str:
    """Accept 4 or "4" (whole numbers only); return the string form the API uses."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | str):
        raise InvalidInput(
            f'seconds must be a whole number like "4" (got {seconds!r}).', fix='Pass e.g. "4".'
        )
    text = str(seconds).strip()
    if not text.isascii() or not text.isdigit():
        raise InvalidInput(
            f'seconds must be a whole number like "4" (got {str(seconds)[:40]!r}).', fix='Pass e.g. "4".'
        )
    return str(int(text))


def normalise_size(size: str) -> str:
    text = str(size).strip().lower().replace("×", "x")
    if not SIZE_RE.match(text):
        raise InvalidInput(
            f'size must be WIDTHxHEIGHT like "1280x720" (got {str(size)[:40]!r}).',
            fix='Pass e.g. "1280x720".',
        )
    return text

"""Request shapes the front ends hand to the service (one per generating operation)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from sora_mcp.errors import InvalidInput, NotFound
from sora_mcp.prompting import AugmentFields


class CreateRequest(BaseModel):
    prompt: str
    model: str = "sora-2"
    size: str = "1280x720"
    seconds: str | int = "4"
    input_reference: str | None = None
    augment: bool = True
    fields: AugmentFields = Field(default_factory=AugmentFields)
    extra: dict[str, Any] | None = None
    backend: str | None = None  # a backend named in the backends file; None: chosen by model


class DeriveRequest(BaseModel):
    """remix / extend / edit: a new job made from an existing one."""

    video_id: str
    prompt: str
    seconds: str | int | None = None
    augment: bool = True
    fields: AugmentFields = Field(default_factory=AugmentFields)
    extra: dict[str, Any] | None = None


def unknown_video(video_id: str) -> NotFound:
    """The one answer for an id nobody knows, and for another user's id (no existence leak)."""
    return NotFound(
        f"No video with id '{video_id}' on the backend or in the library",
        fix="Check the id with list_videos.",
    )


def check_id(video_id: str) -> None:
    if not isinstance(video_id, str) or not video_id.strip():
        raise InvalidInput("video_id is empty", fix="Pass the id returned by create_video or list_videos.")
    if len(video_id) > 512 or any(ord(c) < 32 for c in video_id):
        raise InvalidInput(
            "video_id is not a valid id (too long or has control characters)",
            fix="Pass the id returned by create_video or list_videos.",
        )

"""The data shapes shared by every layer: jobs, assets, pages, quotes.

Names follow OpenAI's Videos API (`status`, `progress`, `seconds`, `size`, `variant`,
`remixed_from_video_id`) so nothing is renamed at a boundary. These are also the tools'
return types, so their field descriptions become the agent-facing `outputSchema`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["queued", "in_progress", "completed", "failed", "cancelled", "expired", "deleted"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled", "expired", "deleted"})
Variant = Literal["video", "thumbnail", "spritesheet"]
VARIANT_MIME: dict[str, str] = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
VARIANT_EXT: dict[str, str] = {"video": ".mp4", "thumbnail": ".webp", "spritesheet": ".jpg"}


class JobError(BaseModel):
    """Why a generation failed, as the backend said it."""

    code: str
    message: str


class RemoteVideo(BaseModel):
    """A video job as a backend reported it, normalised by the dialect layer.

    `status` is always one of `Status`; `raw_status` keeps what the backend actually said.
    """

    model_config = ConfigDict(extra="ignore")

    id: str
    status: Status
    raw_status: str | None = None
    progress: int = 0
    model: str | None = None
    size: str | None = None
    seconds: str | None = None
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    error: JobError | None = None
    video_url: str | None = None
    cost_usd: float | None = None  # what the provider billed, when it says (OpenRouter's usage.cost)
    poll_after_ms: int | None = None


class RemotePage(BaseModel):
    data: list[RemoteVideo]
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class Asset(BaseModel):
    """A file sora-mcp saved into its library."""

    video_id: str
    variant: Variant
    path: str = Field(
        description="Where the file is: an absolute path in the library, or s3://bucket/key in an S3 store."
    )
    mime_type: str
    size_bytes: int
    sha256: str
    derived: bool = Field(
        default=False,
        description="True when sora-mcp made this variant itself from the MP4 (the backend could not serve it).",
    )
    url: str | None = Field(
        default=None,
        exclude_if=lambda v: v is None,  # local files: no key at all in results (agents pay per byte)
        description="With an S3 asset store: a time-limited link to the file (path is then its s3:// location).",
    )


class Quote(BaseModel):
    """What a request is expected to cost."""

    model: str
    size: str
    seconds: str
    usd: float | None = Field(description="Estimated cost in US dollars; null when the price is not known.")
    note: str = Field(description="How the estimate was made, or why there is none.")


class Job(BaseModel):
    """A video job as sora-mcp tracks it."""

    id: str
    status: Status | Literal["dry_run"] = Field(
        description="queued, in_progress, completed, failed (plus cancelled/expired/deleted); dry_run: nothing was created."
    )
    progress: int = Field(ge=0, le=100)
    model: str | None = None
    size: str | None = None
    seconds: str | None = None
    prompt: str | None = Field(default=None, description="The exact prompt sent to the backend.")
    remixed_from_video_id: str | None = None
    extended_from_video_id: str | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    error: JobError | None = None
    backend: str | None = Field(default=None, description="Which backend dialect served the job.")
    quote: Quote | None = None
    assets: list[Asset] = Field(default_factory=list, description="Files already saved in the library.")
    where: Literal["remote", "local", "both"] | None = Field(
        default=None, description="remote: only the backend has it; local: only the library; both."
    )
    next_step: str | None = Field(default=None, description="What to call next.")
    checks: list[str] | None = Field(default=None, description="dry_run: the checks the request passed.")
    unchecked: list[str] | None = Field(
        default=None, description="dry_run: checks that could not be made, and why."
    )


class JobPage(BaseModel):
    data: list[Job]
    next_after: str | None = Field(
        default=None, description="Pass as `after` to get the next page; null at the end."
    )
    has_more: bool = False
    note: str | None = None


class DeleteResult(BaseModel):
    id: str
    deleted: bool
    local_files_deleted: bool = False
    note: str | None = None

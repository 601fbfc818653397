"""What the ledger returns: one `JobRecord` per job, with its status history and archived assets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from sora_mcp.models import TERMINAL_STATUSES, VARIANT_MIME, Asset


class StatusEvent(BaseModel):
    """One status change, with the progress at that moment (unix seconds)."""

    status: str
    progress: int = 0
    at: int


class StoredAsset(Asset):
    """An archived file; `path` is relative to the data directory."""

    archived_at: int | None = None


class JobRecord(BaseModel):
    """Every ledger column of one job, plus its history and assets."""

    id: str
    backend: str | None = None
    base_url_host: str | None = None
    model: str | None = None
    size: str | None = None
    seconds: str | None = None
    prompt_given: str | None = None
    prompt_sent: str | None = None
    augmentation: dict[str, Any] | None = None
    input_reference_sha256: str | None = None
    remixed_from: str | None = None
    extended_from: str | None = None
    edited_from: str | None = None
    kind: str = Field(
        description="create, remix, extend, edit, or external (seen on the backend, not made here)."
    )
    status: str
    raw_status: str | None = None
    progress: int = 0
    error_code: str | None = None
    error_message: str | None = None
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    cost_usd: float | None = None
    cost_note: str | None = None
    idempotency_key: str | None = None
    polls: int = 0
    deleted_remote: bool = False
    deleted_at: int | None = None
    local_files_deleted: bool = False
    updated_at: int | None = None
    recorded_at: int | None = None
    owner: str = "local"  # the user who made it (sora_mcp.principal); 'local' for stdio, the CLI, old jobs
    history: list[StatusEvent] = Field(default_factory=list)
    assets: list[StoredAsset] = Field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def asset(self, variant: str) -> StoredAsset | None:
        return next((a for a in self.assets if a.variant == variant), None)


def asset_from_row(row: Mapping[str, Any]) -> StoredAsset:
    return StoredAsset(
        video_id=row["video_id"],
        variant=row["variant"],
        path=row["path"],
        mime_type=VARIANT_MIME[row["variant"]],
        size_bytes=row["size"],
        sha256=row["sha256"],
        derived=bool(row["derived"]),
        archived_at=row["archived_at"],
    )


def record_from_row(
    row: Mapping[str, Any], history: list[StatusEvent] | None = None, assets: list[StoredAsset] | None = None
) -> JobRecord:
    data = {k: row[k] for k in row.keys()}  # noqa: SIM118 - sqlite3.Row has no items()
    raw_aug = data.pop("augmentation", None)
    try:
        augmentation = json.loads(raw_aug) if raw_aug else None
    except ValueError:  # a hand-edited ledger must not break listing
        augmentation = None
    return JobRecord(
        **data,
        augmentation=augmentation if isinstance(augmentation, dict) else None,
        history=history or [],
        assets=assets or [],
    )

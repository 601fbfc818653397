"""`EngineConfig`: everything the embedded engine can be told, from arguments or `SORA_ENGINE_*` env vars.

The fault knobs (latency, 429s, 5xx, failed jobs, moderation denylist, dropped downloads)
are all off by default; tests and benchmarks turn them on to exercise client error paths.
`FAULT_KNOBS` lists the fields that may change while the engine runs (`set_faults`).
The `/_engine` admin routes exist only with `faults_enabled`, which needs an `api_key`: nobody
without the key may read the request log or change the knobs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ENV_PREFIX = "SORA_ENGINE_"
DEFAULT_POLL_AFTER_MS = 1000

# Fields that can be changed at run time through `EngineServer.set_faults` / `POST /_engine/faults`.
FAULT_KNOBS: frozenset[str] = frozenset(
    {
        "latency_ms",
        "response_delay_ms",
        "rate_limit_every_n",
        "retry_after_s",
        "error_rate_5xx",
        "fail_rate",
        "denylist",
        "drop_download_after_bytes",
        "fault_seed",
        "render_slowdown",
        "poll_after_ms",
        "asset_ttl_s",
    }
)


def default_engine_dir() -> Path:
    """The engine's own state folder when none is given (XDG data home, stdlib only)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sora-mcp" / "engine"


class EngineConfig(BaseModel):
    """How the engine runs. Every field is also read from `SORA_ENGINE_<FIELD>` by `from_env`."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data_dir: Path = Field(
        default_factory=default_engine_dir, description="Jobs and rendered files live here."
    )
    api_key: str | None = Field(
        default=None, description="When set, requests need `Authorization: Bearer <key>`."
    )
    asset_ttl_s: int = Field(
        default=3600, ge=0, description="Seconds a completed job's files stay downloadable."
    )
    poll_after_ms: int | None = Field(
        default=None, ge=0, description="`openai-poll-after-ms` value; None → 1000."
    )
    render_slowdown: float = Field(
        default=1.0, ge=0.0, description="Multiplies render time (benchmarks, races)."
    )
    render_workers: int = Field(default=2, ge=1, le=32, description="Clips rendered at the same time.")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names accepted in Host/Origin besides 127.0.0.1, localhost and [::1] "
        "('name' = any port, 'name:port' = that port).",
    )
    faults_enabled: bool = Field(
        default=False,
        description="Serve the /_engine admin routes (request log, fault knobs at run time); needs api_key.",
    )
    # Fault knobs, all off by default.
    latency_ms: int = Field(default=0, ge=0, description="Fixed delay before each /v1 request is handled.")
    response_delay_ms: int = Field(
        default=0, ge=0, description="Delay after a request's work is done, before the answer is sent."
    )
    rate_limit_every_n: int = Field(
        default=0, ge=0, description="Answer every Nth /v1 request with 429; 0 = off."
    )
    retry_after_s: int = Field(default=1, ge=0, description="`Retry-After` seconds sent with injected 429s.")
    error_rate_5xx: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of /v1 requests answered 500."
    )
    fail_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="Share of jobs that end `failed`.")
    denylist: list[str] = Field(
        default_factory=list,
        description="Prompt phrases (case-insensitive) whose jobs fail `moderation_blocked`.",
    )
    drop_download_after_bytes: int | None = Field(
        default=None, ge=0, description="Close content downloads after this many body bytes."
    )
    fault_seed: int | None = Field(
        default=None, description="Seed for the random fault knobs (reproducible runs)."
    )

    @field_validator("denylist", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        # Env vars arrive as one string: accept a JSON list or comma-separated values.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _admin_needs_key(self) -> EngineConfig:
        if self.faults_enabled and not self.api_key:
            raise ValueError(
                "faults_enabled needs an api_key: the /_engine admin routes answer only to the engine's key"
            )
        return self

    @property
    def effective_poll_after_ms(self) -> int:
        return DEFAULT_POLL_AFTER_MS if self.poll_after_ms is None else self.poll_after_ms

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> EngineConfig:
        """Build from `SORA_ENGINE_*` variables; keyword overrides win (None overrides are skipped)."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = source.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls.model_validate(values)

    def with_knobs(self, **knobs: Any) -> EngineConfig:
        """A copy with fault knobs changed; unknown knob names raise ValueError naming the allowed ones."""
        unknown = sorted(set(knobs) - FAULT_KNOBS)
        if unknown:
            raise ValueError(
                f"Unknown fault knob(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(FAULT_KNOBS))}."
            )
        return type(self).model_validate({**self.model_dump(), **knobs})

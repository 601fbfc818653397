"""Settings from `SORA_MCP_*` environment variables (with `OPENAI_*` fallbacks) and CLI flags.

One variable, `SORA_MCP_DATA_DIR`, moves all local state. The API key is a `SecretStr`
so it never prints by accident.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Dialect = Literal["auto", "openai", "vllm-omni", "sglang", "litellm", "generic", "engine"]


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("sora-mcp", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SORA_MCP_", extra="ignore", populate_by_name=True)

    base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SORA_MCP_BASE_URL", "base_url"),
        description="Any OpenAI-compatible /v1 endpoint. Unset: the embedded engine starts on 127.0.0.1.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SORA_MCP_API_KEY", "OPENAI_API_KEY", "api_key"),
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    dialect: Dialect = "auto"
    catalog: Path | None = Field(default=None, description="A JSON/TOML file adding or overriding models.")
    strict_models: bool = False
    # NoDecode: env values are plain separated lists (see _split_list), not JSON.
    allowed_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders input_reference paths may come from (default: the working directory and data dir).",
    )
    denylist: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Extra words/phrases refused in prompts.")
    archive_variants: Annotated[list[Literal["video", "thumbnail", "spritesheet"]], NoDecode] = Field(
        default_factory=lambda: ["video", "thumbnail", "spritesheet"]
    )
    watch: bool = Field(default=True, description="Follow unfinished jobs in the background and archive them.")
    budget_usd: float | None = None
    budget_daily_usd: float | None = None
    request_timeout_s: float = 60.0
    max_wait_s: float = Field(
        default=45.0, ge=1.0, le=3600.0,
        description="The longest get_status wait a tool call may ask for; raise it for clients that allow long calls.",
    )
    tools: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Expose only these tools (comma-separated names; default: all)."
    )
    litellm_provider: str | None = Field(
        default=None, description="LiteLLM's custom-llm-provider header for listing videos (e.g. openai, vertex_ai)."
    )
    auth_token: SecretStr | None = None
    # Embedded-engine settings (used only when base_url is unset).
    engine_render_slowdown: float = 1.0
    engine_poll_after_ms: int | None = None

    @field_validator("allowed_roots", "denylist", "archive_variants", "tools", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("["):
            import json

            return json.loads(value)
        if isinstance(value, str):
            parts = value.split(os.pathsep if "/" in value else ",")
            return [p.strip() for p in parts if p.strip()]
        return value

    @property
    def uses_embedded_engine(self) -> bool:
        return not self.base_url

    def roots(self) -> list[Path]:
        roots = self.allowed_roots or [Path.cwd()]
        return [Path(r).expanduser().resolve() for r in roots] + [self.data_dir.expanduser().resolve()]

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def library_dir(self) -> Path:
        return self.data_dir / "library"

    @property
    def ledger_path(self) -> Path:
        return self.data_dir / "ledger.sqlite3"

    @property
    def engine_dir(self) -> Path:
        return self.data_dir / "engine"

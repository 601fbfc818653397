"""Settings from `SORA_MCP_*` environment variables (with `OPENAI_*` fallbacks) and CLI flags.

One variable, `SORA_MCP_DATA_DIR`, moves all local state. The API key is a `SecretStr`
so it never prints by accident.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

from pydantic import AliasChoices, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The one list of dialect names; `sora_mcp.backends.dialects` holds a record for each.
DialectName = Literal[
    "openai", "vllm-omni", "sglang", "litellm", "generic", "engine", "openrouter", "together"
]
# What SORA_MCP_DIALECT (or a backends-file entry) may say: a dialect, or `auto` (detected).
DialectChoice = Literal["auto", DialectName]


class Hosted(NamedTuple):
    """A hosted provider the dialect alone points at (no SORA_MCP_BASE_URL needed)."""

    url: str  # its API root
    key_env: str  # the variable its own tools read the key from (used when SORA_MCP_API_KEY is unset)
    hosts: tuple[str, ...]  # hosts that identify it


# An OpenAI key is never sent to these: it would only leak the key to a third party.
HOSTED: dict[DialectName, Hosted] = {
    "openrouter": Hosted("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", ("openrouter.ai",)),
    "together": Hosted(
        "https://api.together.ai/v2", "TOGETHER_API_KEY", ("api.together.ai", "api.together.xyz")
    ),
}


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("sora-mcp", appauthor=False))


ArchiveVariant = Literal["video", "thumbnail", "spritesheet"]


def _every_variant() -> list[ArchiveVariant]:
    """What is archived by default: every variant (a typed list, for the field's default factory)."""
    return ["video", "thumbnail", "spritesheet"]


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value (a database URL, a key) may hold a secret.
    model_config = SettingsConfigDict(
        env_prefix="SORA_MCP_", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

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
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:password@host:port/database: keep the ledger in PostgreSQL, shared by "
        "several instances. Unset: ledger.sqlite3 in the data dir.",
    )
    asset_store: str | None = Field(
        default=None,
        description="s3://bucket/prefix: archive clips into S3-compatible storage (endpoint and credentials "
        "from the usual AWS_* settings). Unset: the local library in the data dir.",
    )
    asset_url_ttl_s: int = Field(
        default=3600, ge=1, le=604800, description="How long a presigned link to a stored clip stays valid."
    )
    dialect: DialectChoice = "auto"
    catalog: Path | None = Field(default=None, description="A JSON/TOML file adding or overriding models.")
    strict_models: bool = False
    # NoDecode: env values are plain separated lists (see _split_list), not JSON.
    allowed_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders input_reference paths may come from (default: the working directory and data dir).",
    )
    denylist: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra words/phrases refused in prompts."
    )
    archive_variants: Annotated[list[ArchiveVariant], NoDecode] = Field(default_factory=_every_variant)
    watch: bool = Field(
        default=True, description="Follow unfinished jobs in the background and archive them."
    )
    budget_usd: float | None = None
    budget_daily_usd: float | None = None
    request_timeout_s: float = Field(
        default=60.0, gt=0, description="Whole-request deadline for every backend call (not only per read)."
    )
    # Memory and disk budgets: what one hostile input, answer or download may cost at most.
    max_concurrent_references: int = Field(
        default=2, ge=1, le=64, description="Input images prepared at once."
    )
    max_image_memory_mb: int = Field(
        default=256, ge=16, description="Decoded size one input image may take (pixels x bytes per pixel)."
    )
    max_answer_mb: float = Field(default=16.0, gt=0, description="Largest backend JSON answer read.")
    max_asset_mb: int = Field(default=2048, ge=1, description="Largest file archived per variant.")
    max_wait_s: float = Field(
        default=45.0,
        ge=1.0,
        le=3600.0,
        description="The longest get_status wait a tool call may ask for; raise it for clients that allow long calls.",
    )
    tools: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Expose only these tools (comma-separated names; default: all)."
    )
    litellm_provider: str | None = Field(
        default=None,
        description="LiteLLM's custom-llm-provider header for listing videos (e.g. openai, vertex_ai).",
    )
    auth_token: SecretStr | None = Field(
        default=None, description="Bearer token for serve --transport http|sse; at least 32 characters."
    )
    # Users in HTTP mode: a tokens file (only sha256 hashes of tokens) and/or OIDC access tokens.
    tokens_file: Path | None = Field(
        default=None,
        description="TOML file of users: token hash -> user id, admin flag, own budget (sora-mcp users add).",
    )
    oidc_issuer: str | None = Field(default=None, description="OIDC: the `iss` access tokens must carry.")
    oidc_audience: str | None = Field(default=None, description="OIDC: the `aud` access tokens must carry.")
    oidc_jwks_url: str | None = Field(default=None, description="OIDC: the issuer's JWKS URL (signing keys).")
    oidc_admin_scope: str | None = Field(
        default=None, description="OIDC: a scope (in `scope`/`scp`) that makes its holder an admin."
    )
    oidc_admin_claim: str | None = Field(
        default=None, description="OIDC: NAME=VALUE, a claim (or list claim) value that makes an admin."
    )
    oidc_resource_url: str | None = Field(
        default=None,
        description="OIDC: this server's public /mcp URL, advertised as protected resource metadata.",
    )
    oidc_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256", "ES256", "PS256", "EdDSA"],
        description="OIDC: signature algorithms accepted (never 'none' or HMAC).",
    )
    # HTTP transports (serve --transport http|sse): every resource a client can hold is bounded.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra Host names the HTTP server answers to (besides loopback)."
    )
    http_header_timeout_s: float = Field(default=10.0, gt=0, description="Seconds to send headers and body.")
    http_max_connections: int = Field(default=256, gt=0, description="Open HTTP connections at once.")
    http_max_streams: int = Field(
        default=64, gt=0, description="Held event streams (GET /sse, /mcp) at once."
    )
    http_max_sessions: int = Field(default=1000, gt=0, description="Sessions of 2025-* clients at once.")
    backends_file: Path | None = Field(
        default=None, description="A TOML file naming more backends (default: backends.toml in the data dir)."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Signing secret of completion webhooks (HTTP mode: POST /webhooks/video)."
    )
    webhook_url: str | None = Field(
        default=None,
        description="This server's public /webhooks/video URL, sent as the callback where supported.",
    )
    webhook_tolerance_s: int = Field(default=300, gt=0, description="How old a signed webhook may be.")
    catalog_ttl_s: float = Field(
        default=3600.0,
        gt=0,
        description="How long a provider's model catalog is kept before it is read again.",
    )
    # Embedded-engine settings (used only when base_url is unset).
    engine_render_slowdown: float = 1.0
    engine_poll_after_ms: int | None = None
    # The variable the key was read from when it is not SORA_MCP_API_KEY (named when it is refused).
    _key_source: str | None = PrivateAttr(default=None)

    @field_validator(
        "allowed_roots",
        "denylist",
        "archive_variants",
        "allowed_hosts",
        "tools",
        "oidc_algorithms",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().startswith("["):
            import json

            return json.loads(value)
        if isinstance(value, str):
            parts = value.split(os.pathsep if "/" in value else ",")
            return [p.strip() for p in parts if p.strip()]
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _postgres_only(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and not raw.strip():
            return None
        if isinstance(raw, str) and not raw.startswith(("postgresql://", "postgres://")):
            # The value itself is not repeated: it may hold a password.
            raise ValueError("must be a postgresql:// URL (postgresql://user:password@host:port/database)")
        return value

    @field_validator("asset_store", mode="before")
    @classmethod
    def _blank_is_local(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _hosted_defaults(self) -> Settings:
        """SORA_MCP_DIALECT=openrouter (or together) alone is enough: its URL, and its key variable."""
        from urllib.parse import urlsplit

        key = self.api_key.get_secret_value() if self.api_key else None
        if (
            key is not None
            and not os.environ.get("SORA_MCP_API_KEY")
            and key == os.environ.get("OPENAI_API_KEY")
        ):
            self._key_source = "OPENAI_API_KEY"
        host = urlsplit(self.base_url or "").hostname or ""
        hosted = (
            self.dialect
            if self.dialect in HOSTED
            else next((n for n, h in HOSTED.items() if host in h.hosts), None)
        )
        if hosted is None:
            return self
        url, key_var, _ = HOSTED[hosted]
        self.base_url = self.base_url or url
        if self._key_source == "OPENAI_API_KEY":
            self.api_key = key = None  # it came from OPENAI_API_KEY: not this provider's key
            self._key_source = None
        if key is None:
            self._key_source = key_var  # where this provider's key is looked for
            if os.environ.get(key_var):
                self.api_key = SecretStr(os.environ[key_var])
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_jwks_url or self.oidc_issuer or self.oidc_audience)

    @property
    def has_users(self) -> bool:
        """HTTP requests act for the user their token names (tokens file or OIDC), not the local owner."""
        return self.tokens_file is not None or self.oidc_enabled

    @property
    def key_source(self) -> str | None:
        """The variable the API key was read from, when not SORA_MCP_API_KEY (None: that one)."""
        return self._key_source

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
    def ledger_location(self) -> Path | str:
        """Where the ledger lives: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.database_url.get_secret_value() if self.database_url else self.ledger_path

    @property
    def engine_dir(self) -> Path:
        return self.data_dir / "engine"

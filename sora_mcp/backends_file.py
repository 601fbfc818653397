"""The backends settings file: several backends at once, each named, in TOML.

```toml
[backends.openrouter]
dialect = "openrouter"            # its URL is implied; or give base_url
key_env = "OPENROUTER_API_KEY"    # the variable holding the key, never the key itself
models = ["google/veo-3.1"]       # these models go to this backend

[backends.gpu]
base_url = "http://gpu-box:8000/v1"
dialect = "vllm-omni"
models = ["Wan-AI/Wan2.2-T2V-A14B-Diffusers"]
```

The default backend (SORA_MCP_BASE_URL, else the embedded engine) stays implicit: models no
entry names go there. The file is `SORA_MCP_BACKENDS_FILE`, else `backends.toml` in the data
directory when it exists. A key written into the file is refused: files get shared and committed.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sora_mcp.config import HOSTED, DialectChoice, Settings
from sora_mcp.errors import ConfigError

RESERVED = {"default", "engine"}


class BackendEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    base_url: str | None = None
    dialect: DialectChoice = "auto"
    key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    models: list[str] = Field(default_factory=list)

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/") if value else value

    @property
    def url(self) -> str:
        hosted = HOSTED.get(self.dialect) if self.dialect != "auto" else None
        url = self.base_url or (hosted.url if hosted else None)
        assert url is not None  # checked when the file is read
        return url

    @property
    def key_var(self) -> str | None:
        """The variable the key is read from: `key_env`, else a hosted dialect's own."""
        hosted = HOSTED.get(self.dialect) if self.dialect != "auto" else None
        return self.key_env or (hosted.key_env if hosted else None)

    @property
    def key_source(self) -> str:
        """Where a refused key is fixed: its variable, or the entry's missing `key_env`."""
        return self.key_var or f"key_env in [backends.{self.name}] (the variable holding its key)"

    def api_key(self) -> str | None:
        """The key, read from the variable the entry names (a hosted dialect's own by default)."""
        var = self.key_var
        return os.environ.get(var) if var else None

    def serves(self, model: str) -> bool:
        return model.casefold() in (m.casefold() for m in self.models)


def _error(where: str, problem: str) -> ConfigError:
    return ConfigError(
        f"The backends file '{where}' is not valid: {problem}",
        fix="Fix the file ([backends.NAME] tables with base_url or a hosted dialect, key_env, models) "
        "or unset SORA_MCP_BACKENDS_FILE.",
    )


def backends_path(settings: Settings) -> Path | None:
    if settings.backends_file is not None:
        return settings.backends_file
    default = settings.data_dir / "backends.toml"
    return default if default.is_file() else None


def load_backends(settings: Settings) -> dict[str, BackendEntry]:
    """The named backends of the settings file (empty without one), checked."""
    path = backends_path(settings)
    if path is None:
        return {}
    try:
        data: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _error(path.name, "the file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(path.name, f"it could not be read ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise _error(path.name, f"TOML error: {exc}") from None
    tables = data.get("backends") if isinstance(data, dict) else None
    if not isinstance(tables, dict) or not tables:
        raise _error(path.name, "it needs at least one [backends.NAME] table")
    entries: dict[str, BackendEntry] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise _error(path.name, f"backends.{name} must be a table")
        if name.lower() in RESERVED:
            raise _error(path.name, f"'{name}' is reserved for the default backend; pick another name")
        if any(k in table for k in ("api_key", "key")):
            raise ConfigError(
                f"The backends file '{path.name}' holds a key for backends.{name}; keys never go in files",
                fix="Remove it, put the key in an environment variable and name that variable with key_env.",
            )
        try:
            entry = BackendEntry.model_validate({**table, "name": name})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise _error(path.name, f"backends.{name}.{where}: {first['msg']}") from None
        if entry.base_url is None and entry.dialect not in HOSTED:
            raise _error(path.name, f"backends.{name} needs a base_url (only hosted dialects imply one)")
        entries[name] = entry
    return entries

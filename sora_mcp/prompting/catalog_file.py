"""Reading a user's catalog file (SORA_MCP_CATALOG, JSON or TOML) and merging it over the shipped one."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sora_mcp.errors import ConfigError


def config_error(name: str, problem: str) -> ConfigError:
    return ConfigError(
        f"The model catalog file '{name}' is not valid: {problem}",
        fix="Fix the file (a 'models' list of entries with id, sizes and seconds or max_frames+fps) "
        "or unset SORA_MCP_CATALOG.",
    )


def read_user_file(path: Path) -> list[dict[str, Any]]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise config_error(name, "the file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise config_error(name, f"it could not be read ({type(exc).__name__})") from None
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise config_error(name, "its name must end in .json or .toml")
    except json.JSONDecodeError as exc:
        raise config_error(name, f"JSON error at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise config_error(name, f"TOML error: {exc}") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list) or not all(isinstance(m, dict) and m.get("id") for m in models):
        raise config_error(name, "it needs a 'models' list whose entries each have an 'id'")
    return models


def match_key(entry: dict[str, Any], entries: dict[str, dict[str, Any]]) -> str:
    key = str(entry["id"]).casefold()
    if key in entries:
        return key
    for k, existing in entries.items():
        if key in (a.casefold() for a in existing.get("aliases", [])):
            entry["id"] = existing["id"]
            return k
    return key


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key in ("supports", "price_usd_per_second") and isinstance(value, dict):
            merged[key] = {**base.get(key, {}), **value}
        else:
            merged[key] = value
    # An entry that switches from a seconds list to a frame limit (or back) drops the other form.
    if "max_frames" in override and "seconds" not in override:
        merged.pop("seconds", None)
    if "seconds" in override and "max_frames" not in override:
        merged.pop("max_frames", None)
        merged.pop("fps", None)
    return merged


def summarise(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_input=False)[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "entry"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)

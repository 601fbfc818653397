"""Helpers for the long-jobs tests: a service pointed at an engine through `base_url`, so quotes use
the published prices (sora-2: $0.10/s) and budgets bite, wrapped in the real MCP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp.types import ElicitResult

from sora_mcp.config import Settings
from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.results import (
    structured,  # noqa: F401 - shared with the tests here
    text,  # noqa: F401 - shared with the tests here
)


def priced_settings(engine: Any, tmp_path: Path, **overrides: Any) -> Settings:
    data = tmp_path / "data"
    inputs = tmp_path / "inputs"
    inputs.mkdir(exist_ok=True)
    values: dict[str, Any] = {
        "base_url": engine.base_url,
        "data_dir": data,
        "allowed_roots": [inputs],
        "watch": False,
    }
    return Settings(**(values | overrides))


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[tuple[VideoService, Any]]:
    """A started service and its MCP server; fails the test if a temp file is left behind."""
    async with VideoService(settings) as service:
        yield service, build_server(service)
    leftovers = [p.name for p in settings.tmp_dir.iterdir()] if settings.tmp_dir.exists() else []
    assert leftovers == [], f"temp files left behind: {leftovers}"


def answering(approve: bool | None, asked: list[str]) -> Any:
    """A client elicitation callback: approve=True/False answers the form; None declines it."""

    async def callback(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        if approve is None:
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={"approve": approve})

    return callback

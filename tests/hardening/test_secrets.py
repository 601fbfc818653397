"""A distinctive API key, every tool / resource / prompt / error path / log level: the key shows nowhere."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.hardening.runs.common import SECRET_KEY, stack
from tests.hardening.runs.secrets_run import exercise, files_containing
from tests.hardening.runs.serve_proc import ServeProcess

pytestmark = pytest.mark.anyio


async def test_key_never_appears_in_process(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    async with stack(tmp_path / "ok", watch=True) as s:
        seen += await exercise(s.client)
        data_dir = s.settings.data_dir
    # The 401 path: the engine expects another key, so every backend call is refused.
    async with stack(tmp_path / "bad", api_key="sk-some-other-key") as s:
        seen += await exercise(s.client, journey=False)
        create = await s.client.call_tool("create_video", {"prompt": "A red kite"})
        assert create.is_error and "key" in create.content[0].text.lower(), create
        seen.append(create.model_dump_json())
        # And the engine down: connection refused.
        s.engine.stop()
        down = await s.client.call_tool("list_videos", {})
        seen.append(down.model_dump_json())
    assert len(seen) > 20
    for text in seen:
        assert SECRET_KEY not in text
    assert caplog.records, "nothing was logged at DEBUG: the log check would prove nothing"
    assert SECRET_KEY not in caplog.text
    assert files_containing(tmp_path, SECRET_KEY.encode()) == []
    assert (data_dir / "ledger.sqlite3").stat().st_size > 0


async def test_key_never_appears_over_http_at_debug(tmp_path: Path) -> None:
    from mcp import Client

    async with stack(tmp_path / "eng") as s:
        proc = ServeProcess(s.settings, "http", log_level="DEBUG")
        try:
            async with Client(proc.url) as client:
                seen = await exercise(client, journey=False)
        finally:
            stderr = proc.close()
    assert "DEBUG" in stderr, "the server logged nothing at DEBUG"
    assert SECRET_KEY not in stderr
    assert all(SECRET_KEY not in t for t in seen)
    assert files_containing(tmp_path, SECRET_KEY.encode()) == []

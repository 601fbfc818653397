"""Private by mode: other local users can read no prompt, ledger row or clip.

A job is created, completed and archived through the official Client; then every folder sora-mcp
made is 0700 and the ledger (with its -wal and -shm) and library files are 0600, checked with
os.stat. A data directory left 0755 / a ledger left 0644 by an older version is narrowed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.bounds.conftest import make_settings, mcp, text_of
from tests.bounds.hostile import Hostile

pytestmark = pytest.mark.anyio


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_data_dir_ledger_and_library_are_private(tmp_path: Path, backend: Hostile) -> None:
    old = os.umask(0o022)  # the usual umask, which would give 0755 folders and 0644 files
    try:
        settings = make_settings(tmp_path, backend.base_url)
        async with mcp(settings) as client:
            result = await client.call_tool("create_video", {"prompt": "A calm lake"})
            video_id = result.structured_content["id"]
            result = await client.call_tool("download_asset", {"video_id": video_id})
            assert not result.is_error, text_of(result)
            data = settings.data_dir
            ledger = settings.ledger_path
            assert Path(f"{ledger}-wal").exists() and Path(f"{ledger}-shm").exists()
            for folder in (data, settings.tmp_dir, settings.library_dir):
                assert mode(folder) == 0o700, (folder.name, oct(mode(folder)))
            for name in (ledger, Path(f"{ledger}-wal"), Path(f"{ledger}-shm")):
                assert mode(name) == 0o600, (name.name, oct(mode(name)))
            files = [p for p in settings.library_dir.rglob("*") if p.is_file()]
            folders = [p for p in settings.library_dir.rglob("*") if p.is_dir()]
            assert files and folders
            assert {oct(mode(p)) for p in files} == {"0o600"}
            assert {oct(mode(p)) for p in folders} == {"0o700"}
    finally:
        os.umask(old)


async def test_an_older_open_data_dir_is_narrowed(tmp_path: Path, backend: Hostile) -> None:
    settings = make_settings(tmp_path, backend.base_url)
    data = settings.data_dir
    data.mkdir(parents=True)
    os.chmod(data, 0o755)
    ledger = settings.ledger_path
    ledger.touch()
    os.chmod(ledger, 0o644)
    async with mcp(settings) as client:
        await client.call_tool("list_videos", {})
        assert mode(data) == 0o700
        assert mode(ledger) == 0o600
        assert mode(Path(f"{ledger}-wal")) == 0o600

"""A full disk under the data directory (SQLite included) is answered plainly everywhere, and the
background watcher waits it out and finishes its work once space returns.

The disk is real: an 8 MB tmpfs mounted for the test (root is needed; under CI=true a missing
mount permission fails the test instead of skipping it). sora-mcp runs as users run it: the
official MCP Client on an in-process server, and the CLI as a subprocess.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.bounds.conftest import make_settings, mcp, serve_env, text_of
from tests.bounds.hostile import Hostile

pytestmark = pytest.mark.anyio
MESSAGE = "the data directory's disk is full"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs at tmp_path/disk, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write zeros until the filesystem refuses; returns the filler file."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (64 * 1024, 512, 1):  # big blocks, then the last few bytes
            try:
                while True:
                    os.write(fd, bytes(size))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


async def test_disk_full_is_said_plainly_and_the_watcher_resumes(
    tmp_path: Path, small_disk: Path, backend: Hostile
) -> None:
    backend.knobs.complete = False
    backend.knobs.content_bytes = 1024 * 1024
    settings = make_settings(tmp_path, backend.base_url, data_dir=small_disk / "data", watch=True)
    async with mcp(settings) as client:
        result = await client.call_tool("create_video", {"prompt": "A calm lake at dawn"})
        assert not result.is_error, text_of(result)
        video_id = result.structured_content["id"]
        filler = fill(small_disk)
        backend.knobs.complete = True  # the job completes while the disk is full

        # Every tool that must write says what happened and what to do.
        for tool, args in (
            ("get_status", {"video_id": video_id}),
            ("download_asset", {"video_id": video_id}),
        ):
            result = await client.call_tool(tool, args)
            text = text_of(result)
            assert result.is_error and MESSAGE in text and "SORA_MCP_DATA_DIR" in text, (tool, text)
        # A read-mostly tool either answers or says the same; never a bare "Error executing tool".
        result = await client.call_tool("list_videos", {})
        assert not result.is_error or MESSAGE in text_of(result), text_of(result)

        # The CLI, on the same full disk, says the same and exits 1.
        env = serve_env(settings)
        with anyio.fail_after(120):
            cli = await anyio.run_process(
                [sys.executable, "-m", "sora_mcp", "status", "--id", video_id], env=env, check=False
            )
        stderr = cli.stderr.decode()
        assert cli.returncode == 1 and f"Error: {MESSAGE}" in stderr, (cli.returncode, stderr)
        assert "Traceback" not in stderr

        # Space returns: the watcher, which kept going, archives the job without being asked.
        assert not list(settings.library_dir.rglob("*.mp4"))
        filler.unlink()
        deadline = time.monotonic() + 90
        while not list(settings.library_dir.rglob("*.mp4")) and time.monotonic() < deadline:
            await anyio.sleep(0.2)
        archived = list(settings.library_dir.rglob("*.mp4"))
        assert archived and archived[0].stat().st_size == 1024 * 1024
        result = await client.call_tool("get_status", {"video_id": video_id})
        assert not result.is_error and result.structured_content["jobs"][0]["assets"], text_of(result)

"""Fixtures for the human CLI tests: `sora-mcp` run as a subprocess against the embedded engine.

One engine is shared by a test module (served on 127.0.0.1, reached via SORA_MCP_BASE_URL);
every test gets its own data directory, so ledgers and libraries never mix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sora_mcp.engine import EngineConfig, EngineServer

API_KEY = "sk-cli-test-1234"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


class Cli:
    """Runs `python -m sora_mcp ...` in `cwd` with a clean SORA_MCP_* environment."""

    def __init__(self, cwd: Path, base_url: str | None, **env: str) -> None:
        self.cwd = cwd
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "SORA_ENGINE_", "OPENAI_"))
        }
        self.env.update(SORA_MCP_DATA_DIR=str(cwd / "data"), SORA_MCP_API_KEY=API_KEY, COLUMNS="120")
        if base_url:
            self.env["SORA_MCP_BASE_URL"] = base_url
        self.env.update(env)

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 60) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "sora_mcp", *args],
            check=False,
            cwd=self.cwd,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineServer]:
    server = EngineServer(EngineConfig(data_dir=tmp_path_factory.mktemp("engine"), api_key=API_KEY)).start()
    yield server
    server.stop()


@pytest.fixture
def cli(shared_engine: EngineServer, tmp_path: Path) -> Cli:
    return Cli(tmp_path, shared_engine.base_url)


def decode_mp4(path: Path) -> tuple[int, int, int]:
    """(width, height, decoded frame count) of an MP4, read with PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, frames

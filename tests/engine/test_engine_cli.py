"""`sora-mcp engine` as a user starts it: no key → refused with how to make one; the open flag; faults; hosts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.engine_helpers import EngineCommand, clean_env, exact, free_port, listening

KEY = "cli-engine-key-abcdefghijklmnop"


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[EngineCommand]]:
    engines: list[EngineCommand] = []
    yield engines
    for engine in engines:
        engine.stop()


def test_no_key_refuses_to_start_and_says_how(tmp_path: Path) -> None:
    port = free_port()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sora_mcp",
            "engine",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=clean_env(),
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in done.stderr
    assert "SORA_ENGINE_API_KEY" in done.stderr and "--insecure-no-auth" in done.stderr
    assert "Traceback" not in done.stderr and not listening(port)
    assert not (tmp_path / "data").exists(), "it created state before refusing"
    # An empty key is no key.
    done = subprocess.run(
        [sys.executable, "-m", "sora_mcp", "engine", "--port", str(port)],
        env=clean_env(SORA_ENGINE_API_KEY=""),
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--insecure-no-auth" in done.stderr
    # Faults need a key too (the admin routes answer only to it).
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sora_mcp",
            "engine",
            "--port",
            str(port),
            "--insecure-no-auth",
            "--enable-faults",
        ],
        env=clean_env(),
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "faults_enabled needs an api_key" in done.stderr, done.stderr


def test_open_flag_runs_open_and_says_so(tmp_path: Path, started: list[EngineCommand]) -> None:
    engine = EngineCommand(tmp_path / "data", "--insecure-no-auth")
    started.append(engine)
    assert exact(engine.port, "GET", "/v1/videos").status == 200
    assert exact(engine.port, "GET", "/v1/videos", headers={"Host": "evil.example"}).status == 421
    assert exact(engine.port, "GET", "/_engine/stats").status == 404
    assert "OPEN: no API key" in engine.stop()


def test_key_from_env_faults_and_allowed_host(tmp_path: Path, started: list[EngineCommand]) -> None:
    engine = EngineCommand(
        tmp_path / "data",
        "--enable-faults",
        "--allowed-host",
        "preview.lan",
        "--allowed-host",
        "box:8",
        SORA_ENGINE_API_KEY=KEY,
    )
    started.append(engine)
    assert exact(engine.port, "GET", "/v1/videos").status == 401
    assert exact(engine.port, "GET", "/v1/videos", key=KEY).status == 200
    assert exact(engine.port, "GET", "/_engine/stats", key=KEY).status == 200
    assert exact(engine.port, "GET", "/v1/videos", key=KEY, headers={"Host": "preview.lan:80"}).status == 200
    assert exact(engine.port, "GET", "/v1/videos", key=KEY, headers={"Host": "box:8"}).status == 200
    assert exact(engine.port, "GET", "/v1/videos", key=KEY, headers={"Host": "box:9"}).status == 421
    stderr = engine.stop()
    assert "API key required" in stderr and "admin routes on" in stderr
    assert KEY not in stderr, "the key was logged"

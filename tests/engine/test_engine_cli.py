"""`sora-mcp engine` as a user starts it: no key → refused with how to make one; the open flag; faults; hosts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.engine_helpers import exact

KEY = "cli-engine-key-abcdefghijklmnop"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "SORA_ENGINE_", "OPENAI_"))}
    env.update(extra)
    return env


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Engine:
    def __init__(self, tmp: Path, *args: str, **env: str) -> None:
        self.port = _free_port()
        self.err = tmp / f"engine-{self.port}.stderr"
        with self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sora_mcp", "engine", "--port", str(self.port), "--data-dir",
                 str(tmp / "data"), *args], env=_env(**env), stdout=subprocess.PIPE, stderr=err)
        deadline = time.monotonic() + 30
        while not _listening(self.port):
            assert self.proc.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, "the engine did not start"
            time.sleep(0.05)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        return self.err.read_text()


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Engine]]:
    engines: list[Engine] = []
    yield engines
    for engine in engines:
        engine.stop()


def test_no_key_refuses_to_start_and_says_how(tmp_path: Path) -> None:
    port = _free_port()
    done = subprocess.run([sys.executable, "-m", "sora_mcp", "engine", "--port", str(port), "--data-dir",
                           str(tmp_path / "data")], env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in done.stderr
    assert "SORA_ENGINE_API_KEY" in done.stderr and "--insecure-no-auth" in done.stderr
    assert "Traceback" not in done.stderr and not _listening(port)
    assert not (tmp_path / "data").exists(), "it created state before refusing"
    # An empty key is no key.
    done = subprocess.run([sys.executable, "-m", "sora_mcp", "engine", "--port", str(port)],
                          env=_env(SORA_ENGINE_API_KEY=""), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--insecure-no-auth" in done.stderr
    # Faults need a key too (the admin routes answer only to it).
    done = subprocess.run([sys.executable, "-m", "sora_mcp", "engine", "--port", str(port), "--insecure-no-auth",
                           "--enable-faults"], env=_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "faults_enabled needs an api_key" in done.stderr, done.stderr


def test_open_flag_runs_open_and_says_so(tmp_path: Path, started: list[Engine]) -> None:
    engine = Engine(tmp_path, "--insecure-no-auth")
    started.append(engine)
    assert exact(engine.port, "GET", "/v1/videos").status == 200
    assert exact(engine.port, "GET", "/v1/videos", headers={"Host": "evil.example"}).status == 421
    assert exact(engine.port, "GET", "/_engine/stats").status == 404
    assert "OPEN: no API key" in engine.stop()


def test_key_from_env_faults_and_allowed_host(tmp_path: Path, started: list[Engine]) -> None:
    engine = Engine(tmp_path, "--enable-faults", "--allowed-host", "preview.lan", "--allowed-host", "box:8",
                    SORA_ENGINE_API_KEY=KEY)
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

"""`sora-mcp doctor` as a user runs it: against a healthy OpenRouter fake (a backend without
delete), a wrong key, an unreachable URL (a closed loopback port) and the embedded engine.
Doctor only reads: every test checks that the fake saw no POST.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sora_mcp.engine import EngineServer
from tests.backends.fakes import FakeServer
from tests.cli.conftest import API_KEY, Cli
from tests.dialects.fake_hosted import FakeOpenRouter


@pytest.fixture
def openrouter() -> Iterator[FakeServer]:
    with FakeServer(FakeOpenRouter(api_key=API_KEY)) as server:
        yield server


def _posts(server: FakeServer) -> list[str]:
    return [p for m, p, _ in server.fake.log if m == "POST"]


def _cli(tmp_path: Path, server: FakeServer, **env: str) -> Cli:
    return Cli(tmp_path, f"{server.origin}/api/v1", SORA_MCP_DIALECT="openrouter", **env)


def test_healthy_backend_without_delete(tmp_path: Path, openrouter: FakeServer) -> None:
    cli = _cli(tmp_path, openrouter)
    table = cli("doctor")
    assert table.code == 0, table.stderr
    out = table.stdout
    assert "openrouter" in out and "usable" in out and "UNUSABLE" not in out
    assert "delete: NO" in out and "remix: NO" in out and "webhooks: yes" in out
    assert "google/veo-3.1" in out and "4, 6, 8" in out and "1920x1080" in out
    assert "google/veo-3.1 1280x720 4 s: $1.60" in out  # the default clip at the listed price

    report = cli("doctor", "--json").json()[0]
    assert report["usable"] and report["reachable"] and report["key_accepted"]
    assert report["dialect"] == "openrouter"
    assert report["operations"]["delete"] is False and report["operations"]["list"] is False
    wan = next(m for m in report["models"] if m["id"] == "alibaba/wan-2.6")
    assert (
        wan["seconds"] == "5, 10" and "854x480" in wan["sizes"] and wan["usd_per_second"]["1280x720"] == 0.04
    )
    assert report["default_clip"]["usd"] == pytest.approx(1.6)
    assert _posts(openrouter) == []


def test_wrong_key_is_named_with_its_fix(tmp_path: Path, openrouter: FakeServer) -> None:
    wrong = "sk-or-WRONG-key-000111"
    cli = _cli(tmp_path, openrouter, SORA_MCP_API_KEY=wrong)
    table = cli("doctor")
    assert table.code == 1
    assert "key accepted │ NO" in table.stdout and "UNUSABLE" in table.stdout
    assert "refused the API key" in table.stderr and "SORA_MCP_API_KEY" in table.stderr
    report = cli("doctor", "--json")
    assert report.code == 1 and report.json()[0]["key_accepted"] is False
    for text in (table.stdout, table.stderr, report.stdout, report.stderr):
        assert wrong not in text  # the fake echoes the key back; it must never be shown
    assert _posts(openrouter) == []


def test_unreachable_url(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cli = Cli(tmp_path, f"http://127.0.0.1:{port}/v1")  # nothing listens there any more
    result = cli("doctor", "--json", timeout=60)
    assert result.code == 1
    report = result.json()[0]
    assert report["reachable"] is False and report["usable"] is False
    assert "Could not reach the backend" in report["problem"] and "SORA_MCP_BASE_URL" in report["fix"]
    assert "SORA_MCP_BASE_URL" in result.stderr


def test_engine_backend(tmp_path: Path, shared_engine: EngineServer) -> None:
    shared_engine.stats.reset()
    result = Cli(tmp_path, shared_engine.base_url)("doctor", "--json")
    assert result.code == 0, result.stderr
    report = result.json()[0]
    assert report["usable"] and all(report["operations"][op] for op in ("remix", "extend", "edit", "delete"))
    assert shared_engine.stats.count("POST", "/v1/videos") == 0


def test_every_backend_of_the_backends_file(tmp_path: Path, openrouter: FakeServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "backends.toml").write_text(
        f"""
[backends.cloud]
base_url = "{openrouter.origin}/api/v1"
dialect = "openrouter"
key_env = "CLOUD_KEY"

[backends.gpu]
base_url = "http://127.0.0.1:{port}/v1"
""",
        encoding="utf-8",
    )
    result = _cli(tmp_path, openrouter, CLOUD_KEY=API_KEY)("doctor", "--json")
    reports = {r["name"]: r for r in result.json()}
    assert result.code == 1  # one backend is unusable
    assert reports["default"]["usable"] and reports["cloud"]["usable"]
    assert reports["cloud"]["operations"]["delete"] is False
    assert reports["gpu"]["reachable"] is False and "Backend gpu" in result.stderr
    assert _posts(openrouter) == []

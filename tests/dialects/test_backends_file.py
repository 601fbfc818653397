"""Several backends at once: the embedded engine (implicit default) and an OpenRouter fake named in
a backends file. Each model goes to its backend, `list_videos` merges both, and a job is followed to
the backend that made it after a restart — all through the official MCP client.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sora_mcp.backends_file import load_backends
from sora_mcp.config import Settings
from sora_mcp.errors import ConfigError
from tests.backends.fakes import FakeServer
from tests.dialects.fake_hosted import FakeOpenRouter

from .conftest import SECRET_KEY, mcp_client, refusal, structured

pytestmark = pytest.mark.anyio


def _write(data_dir: Path, text: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "backends.toml").write_text(text, encoding="utf-8")


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, watch=False)  # no base URL: the embedded engine is the default


async def test_models_go_to_their_backends_and_jobs_are_followed_after_restart(
    openrouter: FakeServer, data_dir: Path, mp4: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORA_TEST_CLOUD_KEY", SECRET_KEY)
    _write(
        data_dir,
        f"""
[backends.cloud]
base_url = "{openrouter.origin}/api/v1"
dialect = "openrouter"
key_env = "SORA_TEST_CLOUD_KEY"
models = ["google/veo-3.1"]
""",
    )
    fake: FakeOpenRouter = openrouter.fake  # type: ignore[assignment]
    async with mcp_client(_settings(data_dir)) as client:
        local = structured(await client.call_tool("create_video", {"prompt": "a paper boat", "seconds": "4"}))
        remote = structured(
            await client.call_tool(
                "create_video",
                {"prompt": "a kite", "model": "google/veo-3.1", "size": "1280x720", "seconds": "4"},
            )
        )
        assert local["backend"] == "engine" and local["quote"]["usd"] == 0
        assert remote["backend"] == "openrouter" and remote["quote"]["usd"] == pytest.approx(1.6)
        assert [b["model"] for b in fake.bodies] == ["google/veo-3.1"]  # only its model went there
        # Named explicitly: the other OpenRouter model goes to the cloud too; an unknown name is refused.
        wan = structured(
            await client.call_tool(
                "create_video",
                {
                    "prompt": "dunes",
                    "model": "alibaba/wan-2.6",
                    "size": "1280x720",
                    "seconds": "5",
                    "backend": "cloud",
                },
            )
        )
        text = refusal(await client.call_tool("create_video", {"prompt": "x", "backend": "gpu"}))
        assert "No backend is named 'gpu'" in text and "default, cloud" in text
        listed = structured(await client.call_tool("list_videos", {}))
        assert {j["id"] for j in listed["data"]} == {local["id"], remote["id"], wan["id"]}
        assert "cloud could not be listed" in listed["note"]

    posts = len([m for m, _, _ in fake.log if m == "POST"])
    async with mcp_client(_settings(data_dir)) as client:  # a restart: a new service on the same ledger
        for job in (remote, local):
            waited = structured(
                await client.call_tool("get_status", {"video_id": job["id"], "wait_seconds": 45})
            )
            assert waited["jobs"][0]["status"] == "completed"
        assert any(p == f"/api/v1/videos/{remote['id']}" for _, p, _ in fake.log)
        assert not any(local["id"] in p for _, p, _ in fake.log)  # the engine's job never asked of the cloud
        video = structured(await client.call_tool("download_asset", {"video_id": remote["id"]}))
        assert Path(video["path"]).read_bytes() == mp4
        assert (
            structured(await client.call_tool("download_asset", {"video_id": local["id"]}))["size_bytes"] > 0
        )
        assert waited["jobs"][0]["backend"] == "engine"
    assert len([m for m, _, _ in fake.log if m == "POST"]) == posts  # following jobs created nothing


def test_the_file_is_checked_and_never_holds_a_key(data_dir: Path) -> None:
    _write(data_dir, '[backends.cloud]\ndialect = "openrouter"\napi_key = "sk-or-123"\n')
    with pytest.raises(ConfigError) as exc:
        load_backends(_settings(data_dir))
    assert "keys never go in files" in exc.value.message and "key_env" in (exc.value.fix or "")
    assert "sk-or-123" not in str(exc.value)
    _write(data_dir, '[backends.gpu]\ndialect = "vllm-omni"\n')
    with pytest.raises(ConfigError, match="needs a base_url"):
        load_backends(_settings(data_dir))
    _write(data_dir, '[backends.default]\nbase_url = "http://x/v1"\n')
    with pytest.raises(ConfigError, match="reserved"):
        load_backends(_settings(data_dir))
    _write(data_dir, '[backends.cloud]\ndialect = "openrouter"\nmodels = ["google/veo-3.1"]\n')
    entry = load_backends(_settings(data_dir))["cloud"]
    assert entry.url == "https://openrouter.ai/api/v1" and entry.serves("GOOGLE/veo-3.1")


async def test_a_batch_line_goes_to_its_backend(
    openrouter: FakeServer, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", SECRET_KEY)  # a hosted dialect's own variable by default
    _write(data_dir, f'[backends.cloud]\nbase_url = "{openrouter.origin}/api/v1"\ndialect = "openrouter"\n')
    fake: FakeOpenRouter = openrouter.fake  # type: ignore[assignment]
    async with mcp_client(_settings(data_dir)) as client:
        result = structured(
            await client.call_tool(
                "create_batch",
                {
                    "jobs": [
                        {"prompt": "a boat", "seconds": "4"},
                        {"prompt": "a kite", "model": "alibaba/wan-2.6", "seconds": "5", "backend": "cloud"},
                    ]
                },
            )
        )
        lines = {r["line"]: r for r in result["results"]}
        assert lines[1]["ok"] and lines[1]["job"]["backend"] == "engine"
        assert lines[2]["ok"] and lines[2]["job"]["backend"] == "openrouter"
    assert [b["model"] for b in fake.bodies] == ["alibaba/wan-2.6"]

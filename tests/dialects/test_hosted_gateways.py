"""Together's `/videos` and a gateway with millisecond timestamps, through the MCP client, against
fakes built from their docs (tests/dialects/fake_hosted.py); and OpenRouter through the CLI.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sora_mcp.backends import Backend
from tests.backends.fakes import FakeServer
from tests.cli.conftest import API_KEY, Cli
from tests.dialects.fake_hosted import FakeMillisGateway, FakeOpenRouter, FakeTogether

from .conftest import SECRET_KEY, mcp_client, refusal, settings_for, structured

pytestmark = pytest.mark.anyio


def test_together_is_known_by_its_hosts() -> None:
    for url in ("https://api.together.xyz/v1", "https://api.together.ai/v2"):
        assert Backend(base_url=url, api_key="k").known_dialect.name == "together"


async def test_together_journey(store: FakeServer, data_dir: Path, mp4: bytes) -> None:
    fake = FakeTogether(api_key=SECRET_KEY)
    fake.store = store.fake  # type: ignore[assignment]
    with FakeServer(fake) as server:
        settings = settings_for(f"{server.origin}/v2", data_dir, dialect="together")
        async with mcp_client(settings) as client:
            created = structured(
                await client.call_tool(
                    "create_video",
                    {
                        "prompt": "a lighthouse at dawn",
                        "model": "kwaivgI/kling-2.1-master",
                        "size": "1280x720",
                        "seconds": "5",
                    },
                )
            )
            body = fake.bodies[-1]
            assert (body["width"], body["height"], body["seconds"]) == (1280, 720, "5")
            assert created["status"] == "in_progress"  # Together has no queued state
            waited = structured(
                await client.call_tool("get_status", {"video_id": created["id"], "wait_seconds": 45})
            )
            job = waited["jobs"][0]
            assert job["status"] == "completed" and job["quote"]["usd"] == pytest.approx(0.35)
            assert "billed" in job["quote"]["note"]
            video = structured(await client.call_tool("download_asset", {"video_id": created["id"]}))
            assert Path(video["path"]).read_bytes() == mp4
            text = refusal(
                await client.call_tool("remix_video", {"video_id": created["id"], "prompt": "at dusk"})
            )
            assert "This backend (Together AI) cannot remix" in text and "create_video" in text
            data_dir.mkdir(parents=True, exist_ok=True)
            image = data_dir / "frame.png"
            from PIL import Image

            Image.new("RGB", (64, 36)).save(image)
            text = refusal(
                await client.call_tool(
                    "create_video",
                    {
                        "prompt": "x",
                        "model": "kwaivgI/kling-2.1-master",
                        "size": "1280x720",
                        "seconds": "5",
                        "input_reference": str(image),
                    },
                )
            )
            assert "Together AI" in text and "input_reference" in text and len(fake.bodies) == 1
    signed = [h for _, p, h in store.fake.log if p.startswith("/signed/")]
    assert signed and all("authorization" not in h for h in signed)


async def test_gateway_with_millisecond_timestamps(data_dir: Path, mp4: bytes) -> None:
    fake = FakeMillisGateway(api_key=SECRET_KEY)
    fake.use_mp4(mp4)
    with FakeServer(fake) as server:
        async with mcp_client(settings_for(server.base_url, data_dir)) as client:
            created = structured(await client.call_tool("create_video", {"prompt": "a kite", "seconds": "4"}))
            now = time.time()
            assert abs(created["created_at"] - now) < 120  # seconds, not a date 50,000 years away
            waited = structured(
                await client.call_tool("get_status", {"video_id": created["id"], "wait_seconds": 45})
            )
            job = waited["jobs"][0]
            assert job["status"] == "completed" and job["completed_at"] - job["created_at"] == 20
            listed = structured(await client.call_tool("list_videos", {}))
            assert abs(listed["data"][0]["created_at"] - now) < 120


def test_openrouter_through_the_cli(tmp_path: Path, mp4: bytes) -> None:
    fake = FakeOpenRouter(api_key=API_KEY)
    fake.use_mp4(mp4)
    with FakeServer(fake) as server:
        cli = Cli(tmp_path, f"{server.origin}/api/v1", SORA_MCP_DIALECT="openrouter")
        refused = cli("create", "--prompt", "a kite", "--model", "google/veo-3.1", "--seconds", "5")
        assert refused.code == 1 and "Allowed seconds: 4, 6, 8" in refused.stderr
        dry = cli("create", "--prompt", "a kite", "--model", "google/veo-3.1", "--seconds", "6", "--dry-run")
        assert dry.code == 0 and dry.json()["quote"]["usd"] == pytest.approx(2.4)
        assert not [p for m, p, _ in fake.log if m == "POST"]
        done = cli(
            "create-and-poll",
            "--prompt",
            "a kite",
            "--model",
            "google/veo-3.1",
            "--size",
            "1920x1080",
            "--seconds",
            "4",
            "--poll-interval",
            "0.2",
            "--download",
            "--out",
            "out/kite.mp4",
        )
        assert done.code == 0, done.stderr
        data = done.json()
        assert (fake.bodies[-1]["duration"], fake.bodies[-1]["resolution"]) == (4, "1080p")
        assert (tmp_path / "out" / "kite.mp4").read_bytes() == mp4
        assert data["status"] == "completed" and data["quote"]["usd"] == pytest.approx(2.16)
        status = cli("status", "--id", data["id"])
        assert status.code == 0 and status.json()["quote"]["usd"] == pytest.approx(2.16)
        assert len([m for m, _, _ in fake.log if m == "POST"]) == 1
        remix = cli("remix", "--id", data["id"], "--prompt", "at night")
        assert remix.code == 1 and "This backend (OpenRouter) cannot remix" in remix.stderr
        deleted = cli("delete", "--id", data["id"])
        assert deleted.code == 0 and "cannot delete" in deleted.stdout
        fake.outcome = "expired"
        expired = cli(
            "create-and-poll",
            "--prompt",
            "a kite",
            "--model",
            "alibaba/wan-2.6",
            "--seconds",
            "5",
            "--poll-interval",
            "0.2",
        )
        assert expired.code == 1 and "output expired" in expired.stdout + expired.stderr
        assert len([m for m, _, _ in fake.log if m == "POST"]) == 2
        assert API_KEY not in done.stdout + done.stderr + remix.stderr + expired.stdout + expired.stderr

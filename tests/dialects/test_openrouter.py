"""OpenRouter's video API end to end through the official MCP client, against a fake built from
OpenRouter's docs (tests/dialects/fake_hosted.py): sizes and seconds mapped to its fields, the
model list read from its video-models endpoint, every status, the billed cost, downloads with the
key only where it belongs, and what OpenRouter lacks refused with the alternative named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sora_mcp.backends import Backend
from sora_mcp.config import Settings
from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.backends.fakes import FakeServer
from tests.dialects.fake_hosted import FakeOpenRouter

from .conftest import SECRET_KEY, mcp_client, refusal, settings_for, structured, text_of

pytestmark = pytest.mark.anyio


def _settings(server: FakeServer, data_dir: Path, **kw: Any) -> Settings:
    return settings_for(f"{server.origin}/api/v1", data_dir, dialect="openrouter", **kw)


def _posts(fake: FakeOpenRouter) -> list[str]:
    return [p for m, p, _ in fake.log if m == "POST"]


async def _wait(client: Client, vid: str) -> dict[str, Any]:
    waited = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45}))
    return waited["jobs"][0]


def test_the_host_or_the_dialect_alone_selects_openrouter() -> None:
    assert Backend(base_url="https://openrouter.ai/api/v1", api_key="k").known_dialect.name == "openrouter"
    settings = Settings(dialect="openrouter", data_dir=Path("unused"), api_key="k")
    assert settings.base_url == "https://openrouter.ai/api/v1" and not settings.uses_embedded_engine


async def test_create_wait_download_with_billed_cost(
    openrouter: FakeServer, data_dir: Path, mp4: bytes
) -> None:
    fake: FakeOpenRouter = openrouter.fake  # type: ignore[assignment]
    async with mcp_client(_settings(openrouter, data_dir)) as client:
        created = structured(
            await client.call_tool(
                "create_video",
                {
                    "prompt": "A red kite over dunes",
                    "model": "google/veo-3.1",
                    "size": "1920x1080",
                    "seconds": "8",
                },
            )
        )
        vid = created["id"]
        # The request went out in OpenRouter's own fields: integer duration, resolution, aspect ratio.
        body = fake.bodies[-1]
        assert (body["duration"], body["resolution"], body["aspect_ratio"]) == (8, "1080p", "16:9")
        assert "size" not in body and "seconds" not in body
        # Quoted from the provider's price list before the call ($0.60/s at 1080p x 8 s)...
        assert created["quote"]["usd"] == pytest.approx(4.8)
        assert "OpenRouter's listed price" in created["quote"]["note"]
        assert (created["status"], created["backend"]) == ("queued", "openrouter")
        assert (created["model"], created["size"], created["seconds"]) == ("google/veo-3.1", "1920x1080", "8")

        # pending (queued) → in_progress → completed, one step per poll of the fake.
        running = structured(await client.call_tool("get_status", {"video_id": vid}))
        assert running["jobs"][0]["status"] == "in_progress" and fake.jobs[vid]["status"] == "in_progress"
        job = await _wait(client, vid)
        assert (job["status"], job["progress"]) == ("completed", 100)
        # ... and the bill (usage.cost) replaced the estimate once the job completed.
        assert job["quote"]["usd"] == pytest.approx(4.32) and "billed" in job["quote"]["note"]
        spend = json.loads((await client.read_resource("sora://spend")).contents[0].text)
        assert spend["total_usd"] == pytest.approx(4.32)

        video = structured(await client.call_tool("download_asset", {"video_id": vid}))
        assert Path(video["path"]).read_bytes() == mp4
        content = [h for m, p, h in fake.log if p.endswith(f"/{vid}/content")]
        assert content and all(h["authorization"] == f"Bearer {SECRET_KEY}" for h in content)
        assert fake.content_queries and set(fake.content_queries) == {"index=0"}


async def test_every_status_is_mapped(openrouter: FakeServer, data_dir: Path) -> None:
    fake: FakeOpenRouter = openrouter.fake  # type: ignore[assignment]
    async with mcp_client(_settings(openrouter, data_dir)) as client:
        seen: dict[str, dict[str, Any]] = {}
        for outcome in ("failed", "cancelled", "expired"):
            fake.outcome = outcome
            created = structured(
                await client.call_tool(
                    "create_video",
                    {
                        "prompt": f"a clip that ends {outcome}",
                        "model": "alibaba/wan-2.6",
                        "size": "1280x720",
                        "seconds": 5,
                    },
                )
            )
            assert fake.bodies[-1]["duration"] == 5 and created["status"] == "queued"
            seen[outcome] = await _wait(client, created["id"])
        assert seen["failed"]["status"] == "failed"
        assert "rejected the prompt" in seen["failed"]["error"]["message"]
        assert seen["cancelled"]["status"] == "cancelled"
        # OpenRouter's `expired` is a job that never delivered: failed, saying the output expired.
        expired = seen["expired"]
        assert expired["status"] == "failed" and expired["error"]["code"] == "expired"
        assert (
            "output expired" in expired["error"]["message"]
            and "Create the clip again" in expired["error"]["message"]
        )
        assert {j["status"] for j in fake.jobs.values()} == {"failed", "cancelled", "expired"}
        spend = json.loads((await client.read_resource("sora://spend")).contents[0].text)
        assert spend["total_usd"] == 0  # nothing is billed for jobs that never delivered


async def test_validation_uses_the_providers_model_list(openrouter: FakeServer, data_dir: Path) -> None:
    fake: FakeOpenRouter = openrouter.fake  # type: ignore[assignment]
    async with mcp_client(_settings(openrouter, data_dir)) as client:
        bad_seconds = refusal(
            await client.call_tool(
                "create_video",
                {"prompt": "a kite", "model": "google/veo-3.1", "size": "1280x720", "seconds": "5"},
            )
        )
        assert "seconds=5 is not available for google/veo-3.1" in bad_seconds and "4, 6, 8" in bad_seconds
        bad_size = refusal(
            await client.call_tool(
                "create_video",
                {"prompt": "a kite", "model": "alibaba/wan-2.6", "size": "1920x1080", "seconds": "5"},
            )
        )
        assert "Size 1920x1080 is not available for alibaba/wan-2.6" in bad_size
        assert "854x480" in bad_size and "720x720" in bad_size
        unknown = refusal(
            await client.call_tool(
                "create_video", {"prompt": "a kite", "model": "sora-2", "size": "1280x720", "seconds": "4"}
            )
        )
        assert "OpenRouter offers no video model 'sora-2'" in unknown
        assert "google/veo-3.1" in unknown and "alibaba/wan-2.6" in unknown
        assert _posts(fake) == []  # every refusal came before any paid request

        models = (await client.read_resource("sora://models")).contents[0].text
        assert "as OpenRouter reports them" in models
        veo = next(line for line in models.splitlines() if line.startswith("| google/veo-3.1"))
        assert "1280x720, 1920x1080, 720x1280, 1080x1920" in veo and "| 4, 6, 8 |" in veo
        assert "no / no / no / yes / yes" in veo and "1920x1080: 0.60" in veo
        assert "sora-2 " not in models  # the built-in catalog describes other backends
        # Every model the provider lists, with its limits, and the provider's own words for them.
        wan = next(line for line in models.splitlines() if line.startswith("| alibaba/wan-2.6"))
        assert "| 854x480, 480x480, 1280x720, 720x720 | 5, 10 | no / no / no / no / no |" in wan
        assert "720x720: 0.04" in wan
        assert (
            "reported by OpenRouter (GET /videos/models): resolutions 720p, 1080p; aspect ratios 16:9, 9:16; "
            "durations 4, 6, 8; frame images first_frame, last_frame; audio yes; seed yes"
        ) in models
        assert (
            "resolutions 480p, 720p; aspect ratios 16:9, 1:1; durations 5, 10; frame images none listed"
            in models
        )


async def test_the_model_list_is_cached_then_read_again(openrouter: FakeServer, data_dir: Path) -> None:
    fake: FakeOpenRouter = openrouter.fake  # type: ignore[assignment]

    def reads() -> int:
        return len([p for _, p, _ in fake.log if p.endswith("/videos/models")])

    settings = _settings(openrouter, data_dir)
    async with VideoService(settings) as service:
        await service.refresh_catalog()
        await service.refresh_catalog()
        assert reads() == 1
        fake.models_served[1]["supported_durations"] = [5, 10, 15]
        service.settings.catalog_ttl_s = 1e-9  # the cache has aged out
        catalog = await service.refresh_catalog()
        assert reads() == 2 and catalog.get("alibaba/wan-2.6").seconds == ["5", "10", "15"]


async def test_what_openrouter_lacks_is_refused_with_the_alternative(
    openrouter: FakeServer, data_dir: Path
) -> None:
    fake: FakeOpenRouter = openrouter.fake  # type: ignore[assignment]
    async with mcp_client(_settings(openrouter, data_dir)) as client:
        created = structured(
            await client.call_tool(
                "create_video",
                {"prompt": "a kite", "model": "alibaba/wan-2.6", "size": "1280x720", "seconds": "5"},
            )
        )
        vid = created["id"]
        await _wait(client, vid)
        for tool in ("remix_video", "extend_video", "edit_video"):
            args = {"video_id": vid, "prompt": "at night"} | (
                {"seconds": 4} if tool == "extend_video" else {}
            )
            text = refusal(await client.call_tool(tool, args))
            assert f"This backend (OpenRouter) cannot {tool.removesuffix('_video')}" in text
            assert "create_video" in text
        assert len(_posts(fake)) == 1  # only the create
        listed = structured(await client.call_tool("list_videos", {}))
        assert [j["id"] for j in listed["data"]] == [vid]
        assert "cannot list videos" in listed["note"] and "local library" in listed["note"]
        deleted = structured(await client.call_tool("delete_video", {"video_id": vid}))
        assert deleted["deleted"] is False and "This backend (OpenRouter) cannot delete" in deleted["note"]
        assert not [m for m, _ in fake.seen if m == "DELETE"]  # refused from its record: nothing sent
        thumb = await client.call_tool("download_asset", {"video_id": vid, "variant": "thumbnail"})
        assert not thumb.is_error and "made locally by sora-mcp" in text_of(thumb)
        assert not [p for _, p, _ in fake.log if "variant=" in p]  # named variants never asked of it


async def test_signed_urls_never_get_the_key(
    openrouter: FakeServer, store: FakeServer, data_dir: Path, mp4: bytes
) -> None:
    fake: FakeOpenRouter = openrouter.fake  # type: ignore[assignment]
    fake.store = store.fake  # type: ignore[assignment]
    async with mcp_client(_settings(openrouter, data_dir)) as client:
        created = structured(
            await client.call_tool(
                "create_video",
                {"prompt": "a kite", "model": "google/veo-3.1", "size": "720x1280", "seconds": "4"},
            )
        )
        assert (fake.bodies[-1]["resolution"], fake.bodies[-1]["aspect_ratio"]) == ("720p", "9:16")
        await _wait(client, created["id"])
        video = structured(await client.call_tool("download_asset", {"video_id": created["id"]}))
        assert Path(video["path"]).read_bytes() == mp4
    signed = [h for m, p, h in store.fake.log if p.startswith("/signed/")]
    assert signed, "the download should have used the signed URL"
    assert all("authorization" not in h and SECRET_KEY not in str(h) for h in signed)


async def test_first_frame_goes_as_frame_images(
    openrouter: FakeServer, data_dir: Path, tmp_path: Path
) -> None:
    from PIL import Image

    fake: FakeOpenRouter = openrouter.fake  # type: ignore[assignment]
    image = data_dir / "first.png"
    data_dir.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (1280, 720), (200, 40, 40)).save(image)
    async with mcp_client(_settings(openrouter, data_dir)) as client:
        created = await client.call_tool(
            "create_video",
            {
                "prompt": "a kite",
                "model": "google/veo-3.1",
                "size": "1280x720",
                "seconds": "4",
                "input_reference": str(image),
            },
        )
        structured(created)
        frames = fake.bodies[-1]["frame_images"]
        assert frames[0]["frame_type"] == "first_frame" and frames[0]["type"] == "image_url"
        assert frames[0]["image_url"]["url"].startswith("data:image/")
        refused = refusal(
            await client.call_tool(
                "create_video",
                {
                    "prompt": "a kite",
                    "model": "alibaba/wan-2.6",
                    "size": "1280x720",
                    "seconds": "5",
                    "input_reference": str(image),
                },
            )
        )
        assert "alibaba/wan-2.6" in refused and len(_posts(fake)) == 1


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_both_protocol_versions(openrouter: FakeServer, data_dir: Path, mode: str) -> None:
    settings = _settings(openrouter, data_dir)
    async with VideoService(settings) as service, Client(build_server(service), mode=mode) as client:
        created = structured(
            await client.call_tool(
                "create_video",
                {"prompt": "a kite", "model": "alibaba/wan-2.6", "size": "720x720", "seconds": "10"},
            )
        )
        assert created["quote"]["usd"] == pytest.approx(0.4)
        job = await _wait(client, created["id"])
        assert job["status"] == "completed" and job["quote"]["usd"] == pytest.approx(0.36)


def test_an_openai_key_is_never_sent_to_openrouter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SORA_MCP_API_KEY", raising=False)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-not-for-others")
    for kw in ({"dialect": "openrouter"}, {"base_url": "https://openrouter.ai/api/v1"}):
        assert Settings(data_dir=Path("unused"), **kw).api_key is None
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-right")
    settings = Settings(data_dir=Path("unused"), dialect="openrouter")
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "sk-or-right"
    assert Settings(data_dir=Path("unused")).api_key.get_secret_value() == "sk-openai-not-for-others"

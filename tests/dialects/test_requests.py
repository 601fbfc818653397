"""What reaches each backend: `extra` fields in the dialect's encoding on create and remix, the
dialect chosen by SORA_MCP_DIALECT or detected from the backend's answers, gateway statuses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response

from sora_mcp.config import Settings
from tests.backends.fakes import FakeServer
from tests.dialects.fake_dialects import FakeSglang

from .conftest import SECRET_KEY, mcp_client, refusal, settings_for, structured

pytestmark = pytest.mark.anyio
EXTRA = {"seed": 7, "negative_prompt": "blurry, static", "num_frames": 33, "fps": 16}


async def _until_done(client: Any, vid: str) -> dict[str, Any]:
    """Poll with plain get_status calls (each one advances a fake job by a step)."""
    for _ in range(5):
        job = structured(await client.call_tool("get_status", {"video_id": vid}))["jobs"][0]
        if job["status"] not in ("queued", "in_progress"):
            return job
    raise AssertionError(f"{vid} never finished")


@pytest.mark.parametrize(
    ("kind", "model", "size", "received"),
    [
        # vLLM-Omni takes form fields only: every value arrives as text.
        (
            "vllm-omni",
            "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
            "832x480",
            {
                "seconds": "4",
                "seed": "7",
                "negative_prompt": "blurry, static",
                "num_frames": "33",
                "fps": "16",
            },
        ),
        # SGLang and gateways take JSON: numbers stay numbers, SGLang's seconds is an integer.
        ("sglang", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "832x480", {"seconds": 4, **EXTRA}),
        ("gateway", "gw-video-1", "1280x720", {"seconds": 4, **EXTRA}),  # the fake reads seconds as int
    ],
)
async def test_extra_reaches_the_backend_on_create(
    kind: str,
    model: str,
    size: str,
    received: dict[str, Any],
    serve_fake: Callable[[str], FakeServer],
    data_dir: Path,
) -> None:
    server = serve_fake(kind)
    async with mcp_client(settings_for(server.base_url, data_dir)) as client:
        await client.call_tool(
            "create_video",
            {
                "prompt": "A lighthouse in fog",
                "model": model,
                "size": size,
                "seconds": "4",
                "extra": EXTRA,
                "augment": False,
            },
        )
    body = server.fake.bodies[-1]
    assert body == {"prompt": "A lighthouse in fog", "model": model, "size": size, **received}


async def test_extra_reaches_the_backend_on_remix(
    serve_fake: Callable[[str], FakeServer], data_dir: Path
) -> None:
    server = serve_fake("litellm")
    async with mcp_client(settings_for(server.base_url, data_dir)) as client:
        vid = structured(
            await client.call_tool("create_video", {"prompt": "A lighthouse", "model": "wan-video"})
        )["id"]
        await _until_done(client, vid)
        remix = structured(
            await client.call_tool(
                "remix_video",
                {"video_id": vid, "prompt": "The same lighthouse at dawn", "extra": EXTRA, "augment": False},
            )
        )
    assert remix["remixed_from_video_id"] == vid
    assert server.fake.bodies[-1] == {"prompt": "The same lighthouse at dawn", **EXTRA}  # JSON, as sent


class SglangBehindAProxy(FakeSglang):
    """SGLang whose `/v1/models` is hidden (a reverse proxy in front): it cannot be detected."""

    async def models(self, request: Request) -> Response:
        self.gate(request)
        return self.error(404, "Not Found")


async def test_dialect_chosen_by_environment(
    serve_fake: Callable[[str], FakeServer], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeServer(SglangBehindAProxy(api_key=SECRET_KEY)).__enter__()
    try:
        args = {"prompt": "Waves at dusk", "model": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "size": "832x480"}
        # Undetectable, so sent OpenAI's way (multipart): SGLang refuses, and the fix names the setting.
        async with mcp_client(settings_for(server.base_url, data_dir)) as client:
            text = refusal(await client.call_tool("create_video", args))
        assert "input_reference file is required" in text and "SORA_MCP_DIALECT=" in text
        server.fake.log.clear()
        monkeypatch.setenv("SORA_MCP_DIALECT", "sglang")
        settings = Settings(base_url=server.base_url, api_key=SECRET_KEY, data_dir=data_dir, watch=False)
        async with mcp_client(settings) as client:
            job = structured(await client.call_tool("create_video", args))
        assert job["backend"] == "sglang" and server.fake.bodies[-1]["seconds"] == 4  # JSON, integer seconds
        assert not [p for _, p, _ in server.fake.log if p.endswith("/models")]  # chosen, not detected
    finally:
        server.__exit__(None, None, None)


# A model outside the catalog must be one the backend lists (issue #21), so each fake is asked for
# its own; the gateway lists none (GET /v1/models is 404 there), so any name passes.
@pytest.mark.parametrize(
    ("kind", "dialect", "model"),
    [
        ("vllm-omni", "vllm-omni", "Wan-AI/Wan2.2-T2V-A14B-Diffusers"),
        ("sglang", "sglang", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"),
        ("litellm", "litellm", "wan-video"),
        ("gateway", "generic", "m-1"),
    ],
)
async def test_dialect_detected_from_the_backends_answers(
    kind: str, dialect: str, model: str, serve_fake: Callable[[str], FakeServer], data_dir: Path
) -> None:
    server = serve_fake(kind)
    async with mcp_client(settings_for(server.base_url, data_dir)) as client:
        job = structured(
            await client.call_tool(
                "create_video",
                {"prompt": "A kite", "model": model, "size": "832x480" if "Wan" in model else "1280x720"},
            )
        )
        unlisted = await client.call_tool("create_video", {"prompt": "A kite", "model": "m-1"})
    assert job["backend"] == dialect
    assert unlisted.is_error == (kind != "gateway")  # refused before any POST where the backend lists models


async def test_dialect_detected_for_the_embedded_engine(engine_factory, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory(api_key=SECRET_KEY)
    async with mcp_client(settings_for(engine.base_url, data_dir)) as client:
        job = structured(await client.call_tool("create_video", {"prompt": "A red ball on a floor"}))
    assert job["backend"] == "engine"  # from its GET /v1/models (owned_by sora-mcp-engine)
    assert engine.stats.count("GET", "/v1/models") == 1


async def test_gateway_terminal_statuses_are_reported_as_such(
    serve_fake: Callable[[str], FakeServer], data_dir: Path
) -> None:
    server = serve_fake("gateway")
    async with mcp_client(settings_for(server.base_url, data_dir)) as client:
        for word in ("cancelled", "expired"):
            prompt = "please cancel this one" if word == "cancelled" else "this one will expire"
            vid = structured(await client.call_tool("create_video", {"prompt": prompt, "model": "gw"}))["id"]
            status = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 5}))
            assert status["all_done"] and status["jobs"][0]["status"] == word
            text = refusal(await client.call_tool("download_asset", {"video_id": vid}))
            assert f"is {word}" in text or f"{word} before" in text
            assert "create_video" in text or "create it again" in text

"""The model catalog as an agent meets it: unknown models pass with a visible note (or are refused
with SORA_MCP_STRICT_MODELS=1), a user file (SORA_MCP_CATALOG) adds models, and `sora://models`
shows the effective catalog with the backend's own `GET /v1/models` list alongside."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from sora_mcp.config import Settings
from tests.backends.fakes import FakeServer

from .conftest import SECRET_KEY, mcp_client, refusal, settings_for, structured

pytestmark = pytest.mark.anyio

USER_MODEL = {
    "id": "acme/clipper-v3",
    "aliases": ["wan-video"],  # the name the LiteLLM fake routes
    "family": "acme",
    "sizes": ["1280x720", "720x1280"],
    "seconds": [5, 10],
    "max_prompt_chars": 120,
    "supports": {"remix": True},
    "price_usd_per_second": {"1280x720": 0.05},
    "source": "ACME model card, read 2026-11-01",
}


def _posts(server: FakeServer) -> int:
    return sum(1 for method, _, _ in server.fake.log if method == "POST")


async def test_unknown_model_passes_with_a_visible_note(
    serve_fake: Callable[[str], FakeServer], data_dir: Path
) -> None:
    server = serve_fake("gateway")
    async with mcp_client(settings_for(server.base_url, data_dir)) as client:
        job = structured(await client.call_tool("create_video", {"prompt": "A kite", "model": "gw-video-9"}))
    assert "'gw-video-9' is not in the catalog" in job["next_step"] and "SORA_MCP_CATALOG" in job["next_step"]
    assert job["quote"]["usd"] is None and "not in the catalog" in job["quote"]["note"]
    assert server.fake.bodies[-1]["model"] == "gw-video-9"


async def test_strict_models_refuses_unknown_models_before_any_request(
    serve_fake: Callable[[str], FakeServer], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve_fake("gateway")
    monkeypatch.setenv("SORA_MCP_STRICT_MODELS", "1")
    settings = Settings(base_url=server.base_url, api_key=SECRET_KEY, data_dir=data_dir, watch=False)
    async with mcp_client(settings) as client:
        text = refusal(await client.call_tool("create_video", {"prompt": "A kite", "model": "gw-video-9"}))
        known = structured(await client.call_tool("create_video", {"prompt": "A kite", "model": "sora-2"}))
    assert "'gw-video-9' is not in the catalog" in text and "sora-2" in text
    assert "SORA_MCP_CATALOG" in text and "SORA_MCP_STRICT_MODELS" in text
    assert known["status"] == "queued" and len(server.fake.jobs) == 1  # only the known model was sent


@pytest.mark.parametrize("suffix", [".json", ".toml"])
async def test_user_catalog_adds_a_model_that_shows_in_sora_models(
    suffix: str,
    serve_fake: Callable[[str], FakeServer],
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = serve_fake("litellm")
    user_file = tmp_path / f"my-models{suffix}"
    user_file.write_text(json.dumps({"models": [USER_MODEL]}) if suffix == ".json" else _toml(USER_MODEL))
    monkeypatch.setenv("SORA_MCP_CATALOG", str(user_file))
    monkeypatch.setenv("SORA_MCP_STRICT_MODELS", "1")
    settings = Settings(base_url=server.base_url, api_key=SECRET_KEY, data_dir=data_dir, watch=False)
    async with mcp_client(settings) as client:
        models = (await client.read_resource("sora://models")).contents[0].text
        bad = refusal(
            await client.call_tool(
                "create_video", {"prompt": "A kite", "model": "acme/clipper-v3", "seconds": "8"}
            )
        )
        long = refusal(
            await client.call_tool(
                "create_video", {"prompt": "A kite " * 30, "model": "wan-video", "seconds": "5"}
            )
        )
        job = structured(
            await client.call_tool(
                "create_video", {"prompt": "A kite", "model": "wan-video", "seconds": "10"}
            )
        )
    assert f"Includes entries from `my-models{suffix}`" in models
    assert "| acme/clipper-v3 (aliases: wan-video) | 1280x720, 720x1280 | 5, 10 |" in models
    assert "ACME model card, read 2026-11-01" in models
    assert "Allowed seconds: 5, 10" in bad and "acme/clipper-v3 accepts at most 120" in long
    assert _posts(server) == 1  # neither refusal reached the backend
    assert job["quote"]["usd"] == 0.5 and "not in the catalog" not in job["next_step"]
    # The backend's GET /v1/models is shown alongside; its model is now a known one.
    assert "## Models the backend lists (GET /v1/models)\n\n- wan-video\n" in models + "\n"


def _toml(entry: dict[str, object]) -> str:
    lines = ["[[models]]"]
    for key, value in entry.items():
        if isinstance(value, dict):
            continue
        lines.append(f"{key} = {json.dumps(value)}")
    for key in ("supports", "price_usd_per_second"):
        inner = ", ".join(f'"{k}" = {json.dumps(v)}' for k, v in entry[key].items())  # type: ignore[attr-defined]
        lines.append(f"{key} = {{ {inner} }}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("kind", "listed"),
    [
        ("vllm-omni", "- Wan-AI/Wan2.2-T2V-A14B-Diffusers\n"),  # a catalog model: no note
        ("sglang", "- Wan-AI/Wan2.1-T2V-1.3B-Diffusers\n"),  # SGLang's one-model answer
        ("litellm", "- wan-video (not in the catalog: basic checks only)\n"),
    ],
)
async def test_sora_models_shows_the_backends_list_alongside(
    kind: str, listed: str, serve_fake: Callable[[str], FakeServer], data_dir: Path
) -> None:
    server = serve_fake(kind)
    async with mcp_client(settings_for(server.base_url, data_dir)) as client:
        text = (await client.read_resource("sora://models")).contents[0].text + "\n"
    head, _, served = text.partition("## Models the backend lists (GET /v1/models)")
    assert "| sora-2 " in head and "Wan-AI/Wan2.1-T2V-1.3B-Diffusers" in head  # the effective catalog
    assert served.strip() + "\n" == listed


async def test_sora_models_without_a_backend_list(
    serve_fake: Callable[[str], FakeServer], data_dir: Path
) -> None:
    server = serve_fake("gateway")  # answers GET /v1/models with 404
    async with mcp_client(settings_for(server.base_url, data_dir)) as client:
        text = (await client.read_resource("sora://models")).contents[0].text
    assert "| sora-2 " in text and "GET /v1/models" not in text


async def test_embedded_engine_lists_its_models(engine_factory, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory(api_key=SECRET_KEY)
    async with httpx2.AsyncClient() as http:
        refused = await http.get(f"{engine.base_url}/models")
        answer = await http.get(
            f"{engine.base_url}/models", headers={"Authorization": f"Bearer {SECRET_KEY}"}
        )
    assert refused.status_code == 401
    assert answer.json() == {
        "object": "list",
        "data": [
            {"id": "sora-2", "object": "model", "created": 0, "owned_by": "sora-mcp-engine"},
            {"id": "sora-2-pro", "object": "model", "created": 0, "owned_by": "sora-mcp-engine"},
        ],
    }
    async with mcp_client(settings_for(engine.base_url, data_dir)) as client:
        text = (await client.read_resource("sora://models")).contents[0].text
    assert text.rstrip().endswith("## Models the backend lists (GET /v1/models)\n\n- sora-2\n- sora-2-pro")

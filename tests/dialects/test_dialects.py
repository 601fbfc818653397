"""Normalisation of every dialect's job objects, detection, and request encoding details.

The encoding tests run the dialect fakes in-process (`httpx2.ASGITransport` under the backend's
bounded client); the journeys over real sockets are in tests/backends/test_journeys.py."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import get_args

import pytest
from PIL import Image

from sora_mcp.backends.dialects import DIALECTS, normalize_status, normalize_video
from sora_mcp.backends.known import (
    detect_dialect,
    dialect_from_answer,
    litellm_provider_from_id,
    litellm_sibling_id,
)
from sora_mcp.config import DialectChoice, DialectName
from sora_mcp.errors import NotFound, Unsupported
from sora_mcp.prompting.reference import PreparedReference
from tests.backends.mock import asgi_backend
from tests.dialects.fake_dialects import FakeGateway, FakeLiteLLM, FakeSglang, FakeVllmOmni


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("queued", "queued"),
        ("pending", "queued"),
        ("submitted", "queued"),
        ("starting", "queued"),
        ("processing", "in_progress"),
        ("running", "in_progress"),
        ("In-Progress", "in_progress"),
        ("succeeded", "completed"),
        ("SUCCESS", "completed"),
        ("done", "completed"),
        ("error", "failed"),
        ("failure", "failed"),
        ("canceled", "cancelled"),
        ("cancelled", "cancelled"),
        ("expired", "expired"),
        ("deleted", "deleted"),
        ("warming_up", "in_progress"),
        (None, "queued"),
    ],
)
def test_status_aliases(raw: str | None, status: str) -> None:
    assert normalize_status(raw) == status


def test_gateway_shape_is_normalised() -> None:
    video = normalize_video(
        {
            "task_id": "t1",
            "state": "succeeded",
            "duration": 5.0,
            "aspect_ratio": "9:16",
            "resolution": "720p",
            "created_at": "2026-10-01T12:00:00Z",
            "output": {"video_url": "https://cdn.example/t1.mp4"},
        }
    )
    assert (video.id, video.status, video.raw_status, video.progress) == ("t1", "completed", "succeeded", 100)
    assert (video.seconds, video.size, video.video_url) == ("5", "720x1280", "https://cdn.example/t1.mp4")
    assert video.created_at == 1790856000


def test_missing_or_odd_fields_stay_honest() -> None:
    video = normalize_video(
        {
            "id": "v",
            "status": "processing",
            "progress": 0.25,
            "aspect_ratio": "16:9",
            "seconds": 8,
            "created_at": 1790856000123,
        }
    )
    assert (video.progress, video.size, video.seconds, video.created_at) == (25, None, "8", 1790856000)
    failed = normalize_video({"id": "v", "status": "error", "error": {"code": 500, "message": "OOM"}})
    assert failed.status == "failed" and failed.error is not None and failed.error.code == "500"
    assert normalize_video({"id": "v", "status": "failed", "failure_reason": "nsfw"}).error.message == "nsfw"


def test_detection_from_reliable_facts() -> None:
    assert detect_dialect(host="api.openai.com:443") == "openai"
    assert detect_dialect(host="h:4000", headers={"x-litellm-version": "1"}) == "litellm"
    assert detect_dialect(host="h:1", models_body={"model_path": "Wan", "task_type": "T2V"}) == "sglang"
    assert (
        detect_dialect(host="h:1", models_body={"data": [{"id": "Wan", "owned_by": "vllm"}]}) == "vllm-omni"
    )
    assert detect_dialect(host="h:1", models_body={"data": [{"id": "x", "owned_by": "someone"}]}) == "generic"


def png(tmp_path: Path) -> Path:
    path = tmp_path / "ref.png"
    Image.new("RGB", (64, 36), (200, 30, 30)).save(path)
    return path


@pytest.mark.anyio
async def test_sglang_upload_goes_multipart(tmp_path: Path) -> None:
    fake = FakeSglang()
    backend = asgi_backend(fake, dialect="sglang")
    ref = PreparedReference(kind="file", path=png(tmp_path), filename="ref.png", mime_type="image/png")
    video = await backend.create("animate this", None, "640x360", 4, input_reference=ref, extra={"fps": 8})
    assert fake.bodies[0]["input_reference"] == {"upload": "ref.png"}
    assert fake.bodies[0]["seconds"] == 4 and fake.bodies[0]["fps"] == "8"
    assert video.seconds == "4"
    await backend.aclose()


@pytest.mark.anyio
async def test_url_references_per_dialect() -> None:
    ref = PreparedReference(kind="image_url", image_url="https://example.com/a.png")
    vllm, gateway = FakeVllmOmni(), FakeGateway()
    for fake, dialect in ((vllm, "vllm-omni"), (gateway, "generic")):
        backend = asgi_backend(fake, dialect=dialect)
        await backend.create("move", None, None, None, input_reference=ref)
        await backend.aclose()
    assert vllm.bodies[0]["image_reference"] == '{"image_url": "https://example.com/a.png"}'
    assert gateway.bodies[0]["input_reference"] == {"image_url": "https://example.com/a.png"}


@pytest.mark.anyio
async def test_litellm_provider_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_MCP_LITELLM_PROVIDER", "gemini")
    fake = FakeLiteLLM()
    backend = asgi_backend(fake)
    await backend.list()
    assert fake.log[-1][2]["custom-llm-provider"] == "gemini"
    await backend.aclose()


def test_detection_from_owners_and_answers() -> None:
    engine = {"data": [{"id": "sora-2", "owned_by": "sora-mcp-engine"}]}
    assert detect_dialect(host="h:1", models_body=engine) == "engine"
    mixed = {"data": [{"id": "a", "owned_by": "vllm"}, {"id": "b", "owned_by": "sglang"}]}
    assert detect_dialect(host="h:1", models_body=mixed) == "generic"  # a gateway re-listing others
    lite = FakeLiteLLM().new_id()
    assert dialect_from_answer(lite, {}) == "litellm"
    assert dialect_from_answer("task-1", {"X-LiteLLM-Version": "1.80"}) == "litellm"
    assert dialect_from_answer("video_gen_ab12", {}) == "vllm-omni"
    assert dialect_from_answer("video_68d7512d07848190", {}) is None  # OpenAI-style: proves nothing


def test_litellm_sibling_id_is_what_litellm_would_issue() -> None:
    inner = "litellm:custom_llm_provider:hosted_vllm;model_id:sora-2;video_id:video_b;deployment_id:d1"
    remix_id = "video_" + base64.b64encode(inner.encode()).decode()
    source = litellm_sibling_id(remix_id, "video_a")
    assert source is not None and litellm_provider_from_id(source) == "hosted_vllm"
    assert base64.b64decode(source.removeprefix("video_")).decode() == inner.replace("video_b", "video_a")
    assert litellm_sibling_id(remix_id, remix_id) is None  # already LiteLLM's: left alone
    assert litellm_sibling_id("video_plain", "video_a") is None


@pytest.mark.anyio
async def test_missing_remix_route_is_unsupported_but_a_missing_video_is_not_found() -> None:
    fake = FakeGateway()  # has no remix route at all
    backend = asgi_backend(fake)
    video = await backend.create("a boat", None, None, None)
    with pytest.raises(
        Unsupported, match=r"generic /v1/videos\) cannot remix videos \(it has no remix route"
    ):
        await backend.remix(video.id, "at night")
    with pytest.raises(NotFound):
        await backend.remix("task-unknown", "at night")
    assert len(fake.jobs) == 1
    await backend.aclose()


@pytest.mark.anyio
async def test_a_configured_litellm_provider_selects_the_litellm_dialect() -> None:
    fake = FakeLiteLLM()
    backend = asgi_backend(fake, litellm_provider="vertex_ai")
    assert backend.dialect == "litellm"
    await backend.list()
    assert fake.log[-1][2]["custom-llm-provider"] == "vertex_ai"
    await backend.aclose()


def test_every_dialect_name_has_exactly_one_record() -> None:
    names = get_args(DialectName)
    assert sorted(DIALECTS) == sorted(names) and len(DIALECTS) == len(names)
    assert all(name == record.name for name, record in DIALECTS.items())
    assert get_args(DialectChoice) == ("auto", *names)  # the setting: a name, or detected

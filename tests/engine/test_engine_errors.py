"""Every refusal answers the right status in OpenAI's error envelope, naming the problem and the fix."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import openai
import pytest

from sora_mcp.engine import EngineServer
from tests.engine.engine_helpers import create_done, raw, sdk
from tests.schema_check import assert_valid

EngineFactory = Callable[..., EngineServer]

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def envelope(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    assert_valid("ErrorResponse", body)
    return body["error"]


@pytest.mark.parametrize(
    ("kwargs", "param", "words"),
    [
        ({"size": "1792x1024"}, "size", "sora-2-pro"),
        ({"size": "640x480", "model": "sora-2-pro"}, "size", "1024x1792"),
        ({"seconds": "5"}, "seconds", "4, 8, 12"),
        ({"seconds": "16"}, "seconds", "4, 8, 12"),
        ({"model": "dall-e-3"}, "model", "sora-2"),
        ({"prompt": ""}, "prompt", "1 to 32000"),
        ({"prompt": "x" * 32001}, "prompt", "32000"),
    ],
)
async def test_invalid_create_requests(
    engine: EngineServer, kwargs: dict[str, Any], param: str, words: str
) -> None:
    async with sdk(engine) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.videos.create(**{"prompt": "ok", **kwargs})
    error = envelope(caught.value)
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert words in error["message"]
    assert engine.jobs_count() == 0


async def test_missing_prompt_and_bad_json(engine: EngineServer) -> None:
    async with raw(engine) as http:
        missing = await http.post("/v1/videos", json={"seconds": "4"})
        broken = await http.post("/v1/videos", content=b"{nope", headers={"Content-Type": "application/json"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "prompt"
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]["message"]
    for response in (missing, broken):
        assert_valid("ErrorResponse", response.json())


async def test_non_image_input_reference(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.videos.create(
                prompt="x", input_reference=("notes.png", b"hello, not an image", "image/png")
            )
        assert "not a JPEG, PNG or WebP" in envelope(caught.value)["message"]
        cases = [
            ({"image_url": "https://example.com/a.png"}, "cannot fetch remote"),
            ({"file_id": "file-123"}, "no Files API"),
            (
                {"image_url": "data:image/png;base64," + base64.b64encode(b"GIF89a....").decode()},
                "not a JPEG",
            ),
            ({"image_url": "data:image/png;base64,AAA", "file_id": "file-1"}, "exactly one"),
        ]
        for reference, words in cases:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.videos.create(
                    prompt="x", input_reference=openai.omit, extra_body={"input_reference": reference}
                )
            error = envelope(caught.value)
            assert words in error["message"] and error["param"] == "input_reference"
    assert engine.jobs_count() == 0


async def test_unknown_ids_answer_404(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        for call in (
            client.videos.retrieve("video_nope"),
            client.videos.delete("video_nope"),
            client.videos.remix("video_nope", prompt="x"),
            client.videos.extend(
                video=openai.omit, prompt="x", seconds="4", extra_body={"video": {"id": "video_nope"}}
            ),
        ):
            with pytest.raises(openai.NotFoundError) as caught:
                await call
            assert "video_nope" in envelope(caught.value)["message"]
        with pytest.raises(openai.NotFoundError):
            await client.videos.download_content("video_nope")
    async with raw(engine) as http:
        unknown_path = await http.get("/v1/nothing-here")
        wrong_method = await http.put("/v1/videos")
    assert unknown_path.status_code == 404 and "Unknown path" in unknown_path.json()["error"]["message"]
    assert wrong_method.status_code == 405
    assert_valid("ErrorResponse", wrong_method.json())


async def test_list_parameter_errors(engine: EngineServer) -> None:
    async with raw(engine) as http:
        for params, param in (
            ({"limit": 101}, "limit"),
            ({"limit": -1}, "limit"),
            ({"order": "up"}, "order"),
            ({"after": "video_missing"}, "after"),
        ):
            response = await http.get("/v1/videos", params=params)
            assert response.status_code == 400, params
            assert_valid("ErrorResponse", response.json())
            assert response.json()["error"]["param"] == param


async def test_content_before_completion_and_remix_of_unfinished(engine_factory: EngineFactory) -> None:
    engine = engine_factory(render_slowdown=20.0)
    async with sdk(engine) as client:
        video = await client.videos.create(prompt="slow one")
        with pytest.raises(openai.ConflictError) as caught:
            await client.videos.download_content(video.id)
        error = envelope(caught.value)
        assert error["code"] == "video_not_ready" and "Poll" in error["message"]
        with pytest.raises(openai.BadRequestError) as caught:
            await client.videos.remix(video.id, prompt="again")
        assert "wait until its status is completed" in envelope(caught.value)["message"].lower()


async def test_failed_job_has_no_content(engine_factory: EngineFactory) -> None:
    engine = engine_factory(denylist=["forbidden"])
    async with sdk(engine) as client:
        video = await create_done(client, prompt="a forbidden scene")
        with pytest.raises(openai.ConflictError) as caught:
            await client.videos.download_content(video.id)
        assert envelope(caught.value)["code"] == "video_failed"


async def test_expired_content_is_gone(engine_factory: EngineFactory) -> None:
    engine = engine_factory(asset_ttl_s=0)
    async with sdk(engine) as client:
        video = await create_done(client)
        assert video.expires_at is not None and video.expires_at <= video.completed_at  # type: ignore[operator]
        with pytest.raises(openai.NotFoundError) as caught:
            await client.videos.download_content(video.id)
        error = envelope(caught.value)
        assert error["code"] == "video_expired" and "expired" in error["message"]
        with pytest.raises(openai.BadRequestError) as caught:
            await client.videos.extend(
                video=openai.omit, prompt="x", seconds="4", extra_body={"video": {"id": video.id}}
            )
        assert "expired" in envelope(caught.value)["message"]
    assert not any((engine.config.data_dir / "videos" / video.id).rglob("*.mp4"))


async def test_bad_or_missing_key(engine_factory: EngineFactory) -> None:
    engine = engine_factory(api_key="sekrit-key")
    async with sdk(engine, api_key="wrong-key") as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.videos.list()
        error = envelope(caught.value)
        assert "Incorrect API key" in error["message"] and "wrong-key" not in error["message"]
    async with raw(engine, api_key=None) as http:
        missing = await http.get("/v1/videos")
        admin = await http.get("/_engine/stats")
    assert missing.status_code == 401 and "didn't provide an API key" in missing.json()["error"]["message"]
    assert admin.status_code == 401
    async with sdk(engine, api_key="sekrit-key") as client:
        assert (await client.videos.list()).data == []


async def test_extension_needs_allowed_seconds(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        source = await create_done(client)
        with pytest.raises(openai.BadRequestError) as caught:
            await client.videos.extend(
                video=openai.omit, prompt="x", seconds="6", extra_body={"video": {"id": source.id}}
            )
        assert "4, 8, 12, 16, 20" in envelope(caught.value)["message"]
        with pytest.raises(openai.BadRequestError) as caught:
            await client.videos.extend(video=openai.omit, prompt="x", seconds="4", extra_body={"video": {}})
        assert envelope(caught.value)["param"] == "video"

"""Every /v1/videos endpoint driven with the official openai SDK against the engine on 127.0.0.1.

Success bodies are validated against OpenAI's published schemas; files are decoded with PyAV/Pillow.
"""

from __future__ import annotations

import base64
import io

import av
import openai
import pytest
from PIL import Image

from sora_mcp.engine import EngineServer
from tests.engine.engine_helpers import create_done, raw, sdk, wait_done
from tests.schema_check import assert_valid

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


async def download(
    client: openai.AsyncOpenAI, video_id: str, variant: str = "video"
) -> tuple[bytes, dict[str, str]]:
    async with client.videos.with_streaming_response.download_content(video_id, variant=variant) as response:
        body = await response.read()
        return body, dict(response.headers)


async def test_create_multipart_runs_to_completion_with_real_files(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        created = await client.videos.create(
            prompt="A lighthouse at dusk.\nAudio: waves on rocks.", seconds="4"
        )
        assert_valid("VideoResource", created.model_dump())
        assert (created.status, created.model, created.size, created.seconds) == (
            "queued",
            "sora-2",
            "720x1280",
            "4",
        )
        raw_response = await client.videos.with_raw_response.retrieve(created.id)
        assert raw_response.headers["openai-poll-after-ms"] == "1000"
        done = await wait_done(client, created.id)
        assert done.status == "completed" and done.progress == 100
        assert done.completed_at is not None and done.expires_at == done.completed_at + 3600

        video, headers = await download(client, created.id)
        assert headers["content-type"] == "video/mp4"
        assert int(headers["content-length"]) == len(video) > 1000
        with av.open(io.BytesIO(video)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (720, 1280)
            assert stream.average_rate == 24
            frames = sum(1 for _ in container.decode(video=0))
            assert abs(frames - 96) <= 1
            assert container.streams.audio, "an Audio: line must give the clip an audio track"

        thumb, headers = await download(client, created.id, "thumbnail")
        assert headers["content-type"] == "image/webp"
        with Image.open(io.BytesIO(thumb)) as image:
            assert image.format == "WEBP"
        sheet, headers = await download(client, created.id, "spritesheet")
        assert headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(sheet)) as image:
            assert image.format == "JPEG"

        retrieved = await client.videos.retrieve(created.id)
        assert_valid("VideoResource", retrieved.model_dump())


async def test_json_body_with_integer_seconds_and_unknown_fields(engine: EngineServer) -> None:
    async with raw(engine) as http:
        response = await http.post(
            "/v1/videos",
            json={
                "prompt": "Snow falling",
                "seconds": 8,
                "size": "1280x720",
                "model": "sora-2",
                "style_hint": "x",
            },
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert_valid("VideoResource", body)
    assert (body["seconds"], body["size"]) == ("8", "1280x720")


async def test_pro_model_allows_tall_size(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        video = await client.videos.create(prompt="Tall city", model="sora-2-pro", size="1024x1792")
    assert (video.model, video.size) == ("sora-2-pro", "1024x1792")


async def test_input_reference_upload_and_data_url(engine: EngineServer) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (720, 1280), (10, 200, 30)).save(buffer, format="PNG")
    png = buffer.getvalue()
    async with sdk(engine) as client:
        uploaded = await client.videos.create(
            prompt="Plate test", input_reference=("plate.png", png, "image/png")
        )
        assert_valid("VideoResource", uploaded.model_dump())
        data_url = "data:image/png;base64," + base64.b64encode(png).decode()
        by_url = await client.videos.create(
            prompt="Plate test",
            input_reference=openai.omit,
            extra_body={"input_reference": {"image_url": data_url}},
        )
        done = await wait_done(client, uploaded.id)
        assert done.status == "completed", done.error
        assert (await wait_done(client, by_url.id)).status == "completed"


async def test_list_paginates_in_both_orders(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        ids = [(await client.videos.create(prompt=f"clip {i}")).id for i in range(5)]
        async with raw(engine) as http:
            first = (await http.get("/v1/videos", params={"limit": 2})).json()
        assert_valid("VideoListResource", first)
        assert [v["id"] for v in first["data"]] == ids[::-1][:2]
        assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[4], ids[3], True)

        page = await client.videos.list(limit=2, order="asc")
        assert [v.id for v in page.data] == ids[:2] and page.has_more
        collected = [v.id async for v in client.videos.list(limit=2, order="asc")]
        assert collected == ids
        tail = await client.videos.list(limit=100, after=ids[3], order="asc")
        assert [v.id for v in tail.data] == [ids[4]] and not tail.has_more
        empty = await client.videos.list(limit=0)
        assert empty.data == []


async def test_delete_removes_job_and_files(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        video = await create_done(client)
        job_dir = engine.config.data_dir / "videos" / video.id
        assert any(job_dir.rglob("*.mp4"))
        deleted = await client.videos.delete(video.id)
        assert_valid("DeletedVideoResource", deleted.model_dump())
        assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
        assert not job_dir.exists()
        with pytest.raises(openai.NotFoundError):
            await client.videos.retrieve(video.id)


async def test_range_requests_on_mp4(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        video = await create_done(client)
        whole, _ = await download(client, video.id)
    async with raw(engine) as http:
        url = f"/v1/videos/{video.id}/content"
        part = await http.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
        assert part.content == whole[100:200] and part.headers["content-length"] == "100"
        rest = await http.get(url, headers={"Range": "bytes=1000-"})
        assert rest.status_code == 206 and rest.content == whole[1000:]
        suffix = await http.get(url, headers={"Range": "bytes=-10"})
        assert suffix.content == whole[-10:]
        beyond = await http.get(url, headers={"Range": f"bytes={len(whole)}-"})
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(whole)}"
        assert_valid("ErrorResponse", beyond.json())
        assert beyond.json()["error"]["code"] == "range_not_satisfiable"
        # A malformed or multi-range Range is ignored: the whole file, not a 400 or multipart/byteranges.
        for ignored in ("bytes=abc", "items=0-5", "bytes=0-9,20-29"):
            whole_again = await http.get(url, headers={"Range": ignored})
            assert whole_again.status_code == 200 and whole_again.content == whole, ignored
        head = await http.head(url, headers={"Range": "bytes=100-199"})
        assert head.status_code == 206 and head.content == b"" and head.headers["content-length"] == "100"


async def test_remix_keeps_settings_and_links_source(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        source = await create_done(client, prompt="Blue ocean waves", size="1280x720")
        remix = await client.videos.remix(source.id, prompt="Blue ocean waves at night")
        assert_valid("VideoResource", remix.model_dump())
        assert remix.remixed_from_video_id == source.id
        assert (remix.model, remix.size, remix.seconds) == (source.model, source.size, source.seconds)
        assert remix.prompt == "Blue ocean waves at night"
        assert (await wait_done(client, remix.id)).status == "completed"


async def test_extension_is_the_stitched_total(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        source = await create_done(client)
        extended = await client.videos.extend(
            video=openai.omit, prompt="The kite lands", seconds="4", extra_body={"video": {"id": source.id}}
        )
        assert_valid("VideoResource", extended.model_dump())
        assert extended.seconds == "8"
        done = await wait_done(client, extended.id)
        assert done.status == "completed", done.error
        body, _ = await download(client, extended.id)
    with av.open(io.BytesIO(body)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert abs(frames - 192) <= 1


async def test_edit_rerenders_source(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        source = await create_done(client)
        async with raw(engine) as http:
            response = await http.post(
                "/v1/videos/edits", json={"video": {"id": source.id}, "prompt": "Make it snow"}
            )
        assert response.status_code == 200, response.text
        edit = response.json()
        assert_valid("VideoResource", edit)
        assert (edit["seconds"], edit["size"]) == (source.seconds, source.size)
        done = await wait_done(client, edit["id"])
        assert done.status == "completed", done.error
        edited, _ = await download(client, edit["id"])
        original, _ = await download(client, source.id)
    assert edited != original

"""Journeys with clips in S3-compatible storage: the official MCP client, the embedded engine as
backend, moto's server on 127.0.0.1 as the bucket. Archive into the bucket, presigned links
fetched over loopback and checked with PyAV, the player and copies streaming from the store, a
refused upload leaving nothing, delete removing the objects, link lifetimes, and start-up refusals."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import av
import pytest
from mcp import Client
from PIL import Image

from sora_mcp.engine import EngineServer
from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.apps.conftest import apps_client
from tests.conditions import eventually
from tests.results import structured, text
from tests.service.library.conftest import archived, engine_bytes, make_settings
from tests.store.conftest import SECRET_KEY, aws_env, objects, open_uploads
from tests.store.s3server import RefusingGateway

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]


@pytest.fixture
def fast_engine(engine_factory: Any) -> EngineServer:
    from tests.service.library.conftest import API_KEY

    return engine_factory(api_key=API_KEY, poll_after_ms=100)


@asynccontextmanager
async def s3_client(
    engine: EngineServer, data_dir: Path, store: str, mode: str = "auto", **overrides: Any
) -> AsyncIterator[tuple[Client, VideoService]]:
    settings = make_settings(engine, data_dir, asset_store=store, **overrides)
    async with VideoService(settings) as service, apps_client(build_server(service), mode) as client:
        yield client, service


async def _made(client: Client, prompt: str) -> dict[str, Any]:
    vid = structured(await client.call_tool("create_video", {"prompt": prompt}))["id"]
    return structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45}))["jobs"][0]


def _shown(result: Any) -> tuple[int, int]:
    """The one inline image of a tool result, decoded: its size."""
    images = [c for c in result.content if c.type == "image"]
    assert len(images) == 1, result.content
    with Image.open(io.BytesIO(base64.b64decode(images[0].data))) as image:
        return image.size


def _fetch(url: str) -> bytes:
    assert urlsplit(url).hostname == "127.0.0.1", url  # loopback only
    with urllib.request.urlopen(url, timeout=30) as answer:
        return bytes(answer.read())


def _frames(mp4: bytes) -> tuple[int, int, int]:
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, count


@pytest.mark.parametrize("mode", MODES)
async def test_clips_are_archived_into_the_bucket_and_served_from_it(
    aws: Any, s3: Any, bucket: str, fast_engine: EngineServer, data_dir: Path, tmp_path: Path, mode: str
) -> None:
    async with s3_client(fast_engine, data_dir, f"s3://{bucket}/team", mode) as (client, _):
        job = await _made(client, "A lighthouse in a storm")
        vid = job["id"]
        assert job["status"] == "completed" and len(job["assets"]) == 3
        keys = {f"team/{vid}/video.mp4", f"team/{vid}/thumbnail.webp", f"team/{vid}/spritesheet.jpg"}
        stored = objects(s3, bucket)
        assert set(stored) == keys, (
            job["assets"],
            s3.list_buckets(),
            [objects(s3, b["Name"]) for b in s3.list_buckets()["Buckets"]],
        ) and open_uploads(s3, bucket) == []
        # The ledger holds the permanent location and the sha256 of what the engine rendered.
        row = archived(data_dir, vid)
        rendered = engine_bytes(fast_engine, vid)
        assert row.path == f"s3://{bucket}/team/{vid}/video.mp4"
        assert (row.size_bytes, row.sha256) == (len(rendered), hashlib.sha256(rendered).hexdigest())
        assert stored[f"team/{vid}/video.mp4"] == len(rendered)
        # Nothing of the clip stays on local disk.
        assert not any(p.is_file() for p in (data_dir / "library").rglob("*"))

        # download_asset gives the location and a presigned link; the link serves the MP4 itself.
        result = await client.call_tool("download_asset", {"video_id": vid})
        asset = structured(result)
        assert asset["path"] == row.path and asset["sha256"] == row.sha256
        assert "Link (expires" in text(result)
        fetched = _fetch(asset["url"])
        assert hashlib.sha256(fetched).hexdigest() == row.sha256
        width, height, frames = _frames(fetched)
        assert (width, height) == (1280, 720) and frames > 0
        thumb_result = await client.call_tool("download_asset", {"video_id": vid, "variant": "thumbnail"})
        thumb = structured(thumb_result)
        assert _fetch(thumb["url"])[:4] == b"RIFF"
        # The thumbnail is shown inline, its bytes read back from the bucket (no local file exists).
        width, height = _shown(thumb_result)
        assert 0 < width <= 480 and height > 0
        again = await client.call_tool("get_status", {"video_id": vid, "thumbnail": True})
        assert _shown(again) == (width, height)

        # The job resource carries fresh links too.
        resource = (await client.read_resource(f"sora://videos/{vid}")).contents[0].text
        assert f"s3://{bucket}/team/{vid}/video.mp4" in resource and "X-Amz-Signature" in resource

        # The player reads ranges from the store, byte for byte.
        info = structured(await client.call_tool("player_clip", {"video_id": vid}))
        assert info["id"] == vid
        pieces, offset = [], 0
        while True:
            chunk = structured(
                await client.call_tool("player_chunk", {"video_id": vid, "offset": offset, "length": 99999})
            )
            pieces.append(base64.b64decode(chunk["data"]))
            offset += chunk["length"]
            if chunk["eof"]:
                break
        assert b"".join(pieces) == rendered

        # A copy to a folder the user allowed streams from the store.
        inputs = data_dir.parent / "inputs"
        inputs.mkdir(exist_ok=True)
        copied = structured(
            await client.call_tool(
                "download_asset", {"video_id": vid, "destination": str(inputs / "storm.mp4")}
            )
        )
        assert Path(copied["copied_to"]).read_bytes() == rendered

        # Deleting with the files removes the objects.
        deleted = structured(
            await client.call_tool("delete_video", {"video_id": vid, "delete_local_files": True})
        )
        assert deleted["local_files_deleted"] is True
        assert objects(s3, bucket) == {}


async def test_a_refused_upload_leaves_nothing_and_the_next_try_archives(
    aws: Any, s3: Any, bucket: str, gateway: RefusingGateway, fast_engine: EngineServer, data_dir: Path
) -> None:
    aws(gateway.url)
    gateway.refuse_parts = True
    async with s3_client(fast_engine, data_dir, f"s3://{bucket}") as (client, _):
        job = await _made(client, "A kite over the dunes")
        vid = job["id"]
        assert job["status"] == "completed" and job["assets"] == []  # the archive failed; the job is intact
        assert gateway.refused >= 1
        assert objects(s3, bucket) == {} and open_uploads(s3, bucket) == []

        refused = await client.call_tool("download_asset", {"video_id": vid})
        message = text(refused)
        assert refused.is_error and f"The S3 store (bucket {bucket}) failed" in message
        assert "nothing partial was kept" in message and "archived again on the next try" in message
        assert SECRET_KEY not in message and "Traceback" not in message
        assert objects(s3, bucket) == {} and open_uploads(s3, bucket) == []

        gateway.refuse_parts = False
        asset = structured(await client.call_tool("download_asset", {"video_id": vid}))
        assert objects(s3, bucket) == {f"{vid}/video.mp4": asset["size_bytes"]}
        assert hashlib.sha256(_fetch(asset["url"])).hexdigest() == asset["sha256"]


async def test_the_watcher_archives_once_the_store_takes_parts_again(
    aws: Any, s3: Any, bucket: str, gateway: RefusingGateway, fast_engine: EngineServer, data_dir: Path
) -> None:
    aws(gateway.url)
    gateway.refuse_parts = True
    async with s3_client(fast_engine, data_dir, f"s3://{bucket}", watch=True) as (client, _):
        vid = structured(await client.call_tool("create_video", {"prompt": "A fox in the snow"}))["id"]
        await eventually(lambda: gateway.refused >= 1, timeout_s=60, what="a refused part")
        # The refused upload is aborted once boto3's own retries are spent: nothing is left.
        await eventually(lambda: open_uploads(s3, bucket) == [], what="the upload aborted")
        assert objects(s3, bucket) == {}
        gateway.refuse_parts = False
        # No tool call: the background watcher treats the store like a full disk and tries again.
        await eventually(
            lambda: len(objects(s3, bucket)) == 3, timeout_s=90, what="the archive in the bucket"
        )
        await eventually(lambda: archived(data_dir, vid, "spritesheet") is not None, what="the ledger rows")
        assert open_uploads(s3, bucket) == []
        assert archived(data_dir, vid).path == f"s3://{bucket}/{vid}/video.mp4"


def _signed_at(url: str) -> tuple[float, int]:
    query = parse_qs(urlsplit(url).query)
    when = time.mktime(time.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")) - time.timezone
    return when, int(query["X-Amz-Expires"][0])


async def test_links_last_the_configured_time_and_each_result_signs_a_fresh_one(
    aws: Any, s3: Any, bucket: str, fast_engine: EngineServer, data_dir: Path
) -> None:
    async with s3_client(fast_engine, data_dir, f"s3://{bucket}", asset_url_ttl_s=2) as (client, _):
        vid = (await _made(client, "A train at night"))["id"]
        first = structured(await client.call_tool("download_asset", {"video_id": vid}))["url"]
        signed, ttl = _signed_at(first)
        assert ttl == 2 and abs(signed - time.time()) < 120
        assert hashlib.sha256(_fetch(first)).hexdigest() == archived(data_dir, vid).sha256
        # moto does not refuse an expired link (AWS and MinIO do): what is checked here is that the
        # link says when it ends and that a later result carries a newly signed one.
        await eventually(lambda: time.time() > signed + ttl + 1, timeout_s=10, what="the link's lifetime")
        second = structured(await client.call_tool("download_asset", {"video_id": vid}))["url"]
        assert second != first and _signed_at(second)[0] > signed


def _serve(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sora_mcp", "serve"],
        check=False,
        cwd=cwd,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_store_url_or_missing_credentials_stops_the_server_with_the_fix(
    moto_server: Any, tmp_path: Path, data_dir: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "OPENAI_", "AWS_"))}
    env |= aws_env(moto_server.url, tmp_path) | {"SORA_MCP_DATA_DIR": str(data_dir)}

    bad = _serve(env | {"SORA_MCP_ASSET_STORE": "s3://Not_A_Bucket/x"}, tmp_path)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: SORA_MCP_ASSET_STORE names no valid bucket")
    assert "s3://bucket/prefix" in bad.stderr and "Traceback" not in bad.stderr

    env.pop("AWS_ACCESS_KEY_ID")
    missing = _serve(env | {"SORA_MCP_ASSET_STORE": "s3://clips"}, tmp_path)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("Error: SORA_MCP_ASSET_STORE is set but no S3 credentials were found")
    assert "AWS_ACCESS_KEY_ID" in missing.stderr and SECRET_KEY not in missing.stderr + missing.stdout

"""A backend that serves only the MP4 (LiteLLM, with its ~200-character base64 ids): the thumbnail
and spritesheet are made from the MP4 fetched back from the bucket, and every key is safe."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.backends.fakes import FakeServer, real_mp4
from tests.dialects.conftest import SECRET_KEY, settings_for
from tests.dialects.fake_dialects import FakeLiteLLM
from tests.results import structured
from tests.store.conftest import objects, open_uploads

pytestmark = pytest.mark.anyio


async def test_variants_are_derived_from_the_stored_mp4(
    aws: Any, s3: Any, bucket: str, data_dir: Path
) -> None:
    mp4 = real_mp4()
    fake = FakeLiteLLM(api_key=SECRET_KEY)
    fake.use_mp4(mp4)
    with FakeServer(fake) as server:
        settings = settings_for(server.base_url, data_dir, asset_store=f"s3://{bucket}/lib")
        async with VideoService(settings) as service, Client(build_server(service)) as client:
            made = await client.call_tool("create_video", {"prompt": "A lighthouse", "model": "wan-video"})
            vid = structured(made)["id"]
            done = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 30}))
            assert done["jobs"][0]["status"] == "completed"
            assets = {
                v: structured(await client.call_tool("download_asset", {"video_id": vid, "variant": v}))
                for v in ("video", "thumbnail", "spritesheet")
            }
    assert len(vid) > 190 and "+" in vid
    assert (
        assets["video"]["sha256"] == hashlib.sha256(mp4).hexdigest() and assets["video"]["derived"] is False
    )
    assert assets["thumbnail"]["derived"] is True and assets["spritesheet"]["derived"] is True
    stored = objects(s3, bucket)
    assert len(stored) == 3 and open_uploads(s3, bucket) == []
    for variant, asset in assets.items():
        key = asset["path"].removeprefix(f"s3://{bucket}/")
        assert key.startswith("lib/") and "+" not in key and "=" not in key and len(key) < 100
        assert stored[key] == asset["size_bytes"], variant
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == asset["sha256"]
    assert not any(p.is_file() for p in (data_dir / "library").rglob("*"))

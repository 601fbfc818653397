"""The S3 asset store against moto's real server on 127.0.0.1, through boto3: multipart uploads
that appear only when complete, and leave neither an object nor an open upload on any failure."""

from __future__ import annotations

import hashlib
import io
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import anyio
import pytest

from sora_mcp.errors import ConfigError, StoreError
from sora_mcp.library import open_store
from sora_mcp.library.s3 import PART_SIZE, S3Store, parse_store_url
from sora_mcp.library.stores import LocalStore
from tests.conditions import eventually
from tests.store.conftest import SECRET_KEY, objects, open_uploads
from tests.store.s3server import RefusingGateway

pytestmark = pytest.mark.anyio


def _big_file(tmp_path: Path, size: int) -> tuple[Path, str]:
    path = tmp_path / "clip.bin"
    block = hashlib.sha256(b"seed").digest() * (1 << 15)  # 1 MiB, not all one byte
    with path.open("wb") as out:
        left = size
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_file_of_several_parts_is_stored_whole_with_its_sha256(
    aws: Any, s3: Any, bucket: str, tmp_path: Path
) -> None:
    size = 2 * PART_SIZE + 12345  # three parts, the last one short
    path, sha = _big_file(tmp_path, size)
    store = open_store(f"s3://{bucket}/team/clips/")
    assert isinstance(store, S3Store)
    tracemalloc.start()
    try:
        with path.open("rb") as source:
            stored = await store.put("video_x/video.mp4", source, "video/mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.location == f"s3://{bucket}/team/clips/video_x/video.mp4"
    assert (stored.size, stored.sha256) == (size, sha)
    # One part in memory at a time (plus what boto3 holds while sending it), never the whole file.
    assert peak < size, f"peak {peak} bytes for a {size}-byte upload"
    assert objects(s3, bucket) == {"team/clips/video_x/video.mp4": size}
    assert open_uploads(s3, bucket) == []
    body = s3.get_object(Bucket=bucket, Key="team/clips/video_x/video.mp4")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha
    assert s3.head_object(Bucket=bucket, Key="team/clips/video_x/video.mp4")["ContentType"] == "video/mp4"

    assert store.size(stored.location) == size
    assert store.read(stored.location, PART_SIZE - 3, 6) == body[PART_SIZE - 3 : PART_SIZE + 3]
    assert b"".join(store.iter_bytes(stored.location, 100)) == body[100:]
    store.delete(stored.location)
    assert objects(s3, bucket) == {} and store.size(stored.location) is None


class _Breaks(io.RawIOBase):
    """A source that gives one full part and then fails (a disk error while reading)."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise OSError(5, "Input/output error")
        return b"x" * n


async def test_a_source_failing_after_a_part_leaves_no_object_and_no_upload(
    aws: Any, s3: Any, bucket: str
) -> None:
    store = open_store(f"s3://{bucket}")
    assert store is not None
    with pytest.raises(OSError):
        await store.put("v/video.mp4", _Breaks(), "video/mp4")  # type: ignore[arg-type] # a RawIOBase
    assert objects(s3, bucket) == {} and open_uploads(s3, bucket) == []


async def test_cancelling_an_upload_mid_way_aborts_it(aws: Any, s3: Any, bucket: str) -> None:
    store = open_store(f"s3://{bucket}")
    assert store is not None
    release = threading.Event()

    class Slow(io.RawIOBase):
        reads = 0

        def read(self, n: int = -1) -> bytes:
            self.reads += 1
            if self.reads > 1:
                release.wait(30)  # the second part is "still being read" when the caller gives up
            return b"y" * n

    async with anyio.create_task_group() as tg:
        tg.start_soon(store.put, "v/video.mp4", Slow(), "video/mp4")
        # The first part is on the server and the upload is open: now cancel.
        await eventually(lambda: open_uploads(s3, bucket), what="an open multipart upload")
        key, upload_id = "v/video.mp4", s3.list_multipart_uploads(Bucket=bucket)["Uploads"][0]["UploadId"]
        await eventually(
            lambda: s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id).get("Parts"), what="a part"
        )
        tg.cancel_scope.cancel()
        release.set()
    assert objects(s3, bucket) == {} and open_uploads(s3, bucket) == []


async def test_a_refused_part_is_a_clear_error_and_leaves_nothing(
    aws: Any, s3: Any, bucket: str, gateway: RefusingGateway, tmp_path: Path
) -> None:
    aws(gateway.url)
    store = open_store(f"s3://{bucket}/p")
    assert store is not None
    path, _ = _big_file(tmp_path, PART_SIZE + 10)
    gateway.refuse_parts = True
    with path.open("rb") as source, pytest.raises(StoreError) as caught:
        await store.put("v/video.mp4", source, "video/mp4")
    assert gateway.refused >= 1
    message = str(caught.value)
    assert bucket in message and "InternalError" in message and "nothing partial was kept" in message
    assert SECRET_KEY not in message and "Traceback" not in message
    assert objects(s3, bucket) == {} and open_uploads(s3, bucket) == []


def test_store_urls_are_checked_before_anything_is_sent() -> None:
    assert parse_store_url("s3://my-bucket") == ("my-bucket", "")
    assert parse_store_url("s3://my.bucket/a/b/") == ("my.bucket", "a/b/")
    for bad in ("my-bucket", "https://s3.example/b", "s3://", "s3://UPPER", "s3://b_u", "s3://ok-b/a/../c"):
        with pytest.raises(ConfigError) as caught:
            parse_store_url(bad)
        assert "SORA_MCP_ASSET_STORE" in str(caught.value) and "s3://bucket" in str(caught.value)
    assert open_store(None) is None and open_store("") is None


def test_no_credentials_is_a_config_error_naming_the_fix(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(ConfigError) as caught:
        open_store("s3://clips")
    message = str(caught.value)
    assert "no S3 credentials" in message and "AWS_ACCESS_KEY_ID" in message and SECRET_KEY not in message


async def test_the_local_library_is_a_store_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = LocalStore(data)
    stored = await store.put("video_a/video.mp4", io.BytesIO(b"0123456789"), "video/mp4")
    assert stored.location == "library/video_a/video.mp4" and stored.size == 10
    assert stored.sha256 == hashlib.sha256(b"0123456789").hexdigest()
    assert store.read(stored.location, 2, 3) == b"234" and store.size(stored.location) == 10
    assert store.presigned_url(stored.location, 60) is None
    store.delete(stored.location)
    assert store.size(stored.location) is None
    assert list((data / "tmp").iterdir()) == []

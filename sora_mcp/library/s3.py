"""Archived files in S3-compatible object storage (AWS S3, MinIO, R2, ...), through boto3.

`SORA_MCP_ASSET_STORE=s3://bucket/prefix` selects it. Endpoint, region and credentials come
from boto3's usual settings (AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3, AWS_REGION /
AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE and its files).

`put` streams a file into a multipart upload, one `PART_SIZE` part in memory at a time, hashing
while it goes; the object appears only at CompleteMultipartUpload, and any failure or
cancellation aborts the upload, so neither an object nor an open upload is left behind.
boto3 blocks, so every call runs in a worker thread (`anyio.to_thread`); the abort is shielded
from the cancellation that caused it. Errors become `StoreError` with a fix and never carry
credentials.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import suppress
from typing import Any, BinaryIO

import anyio
import anyio.to_thread

from sora_mcp.errors import ConfigError, SoraError, StoreError
from sora_mcp.library.stores import READ_CHUNK, S3_SCHEME, StoredObject

PART_SIZE = 8 * 1024 * 1024  # S3's parts are at least 5 MiB (except the last)
# Bucket names as S3 allows them (3-63 lowercase letters, digits, dots, hyphens).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_FIX_URL = (
    "Set SORA_MCP_ASSET_STORE to s3://bucket or s3://bucket/prefix, or unset it to keep the local library."
)
_FIX_CREDS = (
    "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and AWS_ENDPOINT_URL for a "
    "non-AWS server, or unset SORA_MCP_ASSET_STORE to keep the local library."
)


def parse_store_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` → (bucket, "prefix/"); a clear ConfigError for anything else."""
    if not url.startswith(S3_SCHEME):
        raise ConfigError("SORA_MCP_ASSET_STORE must be an s3:// URL", fix=_FIX_URL)
    bucket, _, prefix = url[len(S3_SCHEME) :].partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ConfigError(
            "SORA_MCP_ASSET_STORE names no valid bucket (3-63 lowercase letters, digits, dots or hyphens)",
            fix=_FIX_URL,
        )
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise ConfigError("SORA_MCP_ASSET_STORE has an empty, '.' or '..' part in its prefix", fix=_FIX_URL)
    return bucket, f"{prefix}/" if prefix else ""


def _describe(exc: BaseException) -> str:
    """A short reason from a botocore error: the S3 error code, or the error's class (no secrets)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


class S3Store:
    """An `AssetStore` on one bucket and key prefix."""

    name = "s3"

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        """The store for `url`, with boto3's own endpoint and credential settings. No network I/O
        beyond what finding credentials does; a bad URL or no credentials raise ConfigError."""
        bucket, prefix = parse_store_url(url)
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigError(
                "SORA_MCP_ASSET_STORE needs boto3, which is not installed",
                fix="pip install 'sora-mcp[s3]' (or unset SORA_MCP_ASSET_STORE).",
            ) from None
        try:
            session = boto3.session.Session()
            credentials = session.get_credentials()
        except Exception as exc:  # noqa: BLE001 - a broken profile or config file
            raise ConfigError(
                f"The AWS settings could not be read ({_describe(exc)})", fix=_FIX_CREDS
            ) from None
        if credentials is None:
            raise ConfigError("SORA_MCP_ASSET_STORE is set but no S3 credentials were found", fix=_FIX_CREDS)
        config = Config(
            connect_timeout=10,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            signature_version="s3v4",
        )
        client = session.client("s3", region_name=session.region_name or "us-east-1", config=config)
        return cls(client, bucket, prefix)

    # ---- locations ------------------------------------------------------------------------
    def location(self, key: str) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.prefix}{key}"

    def _key(self, location: str) -> str:
        head = f"{S3_SCHEME}{self.bucket}/"
        if not location.startswith(head):
            raise StoreError(
                "The archived file is in another bucket than SORA_MCP_ASSET_STORE names",
                fix="Point SORA_MCP_ASSET_STORE at the bucket the files were archived into.",
            )
        return location[len(head) :]

    def _error(self, doing: str, exc: BaseException) -> StoreError:
        return StoreError(
            f"The S3 store (bucket {self.bucket}) failed while {doing}: {_describe(exc)}; nothing partial was kept",
            fix="Check that the bucket exists, the endpoint is reachable and the credentials may write to it; "
            "the job is archived again on the next try.",
        )

    # ---- writing --------------------------------------------------------------------------
    async def put(self, key: str, source: BinaryIO, content_type: str) -> StoredObject:
        full = self.prefix + key
        try:
            started = await anyio.to_thread.run_sync(
                lambda: self.client.create_multipart_upload(
                    Bucket=self.bucket, Key=full, ContentType=content_type
                )
            )
        except Exception as exc:  # noqa: BLE001 - botocore's errors, reported as StoreError
            raise self._error("starting the upload", exc) from None
        upload_id = started["UploadId"]
        hasher = hashlib.sha256()
        size = 0
        parts: list[dict[str, Any]] = []

        def read_part() -> bytes:
            data = source.read(PART_SIZE)
            hasher.update(data)
            return data

        try:
            while True:
                data = await anyio.to_thread.run_sync(read_part)
                if not data and parts:
                    break
                number = len(parts) + 1
                answer = await anyio.to_thread.run_sync(self._upload_part, full, upload_id, number, data)
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                size += len(data)
                del data  # one part in memory at a time
                if size % PART_SIZE:  # a short read: the source has ended
                    break
            await anyio.to_thread.run_sync(
                lambda: self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            )
        except BaseException as exc:
            with anyio.CancelScope(shield=True), suppress(Exception):
                await anyio.to_thread.run_sync(
                    lambda: self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=full, UploadId=upload_id
                    )
                )
            if isinstance(exc, Exception) and not isinstance(exc, (SoraError, OSError)):
                raise self._error("uploading", exc) from None
            raise
        return StoredObject(self.location(key), size, hasher.hexdigest())

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> Any:
        return self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )

    # ---- reading --------------------------------------------------------------------------
    def read(self, location: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        try:
            answer = self.client.get_object(
                Bucket=self.bucket, Key=self._key(location), Range=f"bytes={offset}-{offset + length - 1}"
            )
            body = answer["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()
        except SoraError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error("reading", exc) from None

    def iter_bytes(self, location: str, offset: int = 0) -> Iterator[bytes]:
        try:
            extra = {"Range": f"bytes={offset}-"} if offset else {}
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(location), **extra)["Body"]
        except SoraError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error("reading", exc) from None
        try:
            yield from body.iter_chunks(READ_CHUNK)
        finally:
            body.close()

    def size(self, location: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._key(location))["ContentLength"])
        except SoraError:
            raise
        except Exception as exc:  # noqa: BLE001
            if _describe(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error("looking up a file", exc) from None

    def presigned_url(self, location: str, ttl_s: int) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(location)}, ExpiresIn=int(ttl_s)
            )
        )

    def delete(self, location: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(location))
        except Exception as exc:  # noqa: BLE001
            raise self._error("deleting a file", exc) from None

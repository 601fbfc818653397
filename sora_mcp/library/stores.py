"""The asset-store seam: where an archived file lives once it is downloaded.

Two stores share one small protocol. The local library (the default) keeps files under the
data directory and records paths relative to it; the S3-compatible store (`library/s3.py`,
`SORA_MCP_ASSET_STORE=s3://bucket/prefix`, chosen by `library.open_store`) keeps objects in a bucket and records
`s3://bucket/key`. A location says which store holds it (`is_s3_location`), so a ledger row
written under one setting is still read correctly after the setting changes.

`put` is async (a multipart upload must be aborted when the caller is cancelled); the other
methods block and are called through `anyio.to_thread` (or from code already in a worker thread).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

import anyio
import anyio.to_thread

from sora_mcp.library.paths import asset_path, safe_dirname
from sora_mcp.library.tempfiles import atomic_replace, create_temp
from sora_mcp.models import VARIANT_EXT

S3_SCHEME = "s3://"
# How much one read of a stored file moves (local file or ranged GET), so memory stays flat.
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredObject:
    """A file the store now holds: where (what the ledger records), how large, its sha256."""

    location: str
    size: int
    sha256: str


class AssetStore(Protocol):
    """What archiving, the player, downloads and delete need from wherever files are kept."""

    name: str

    async def put(self, key: str, source: BinaryIO, content_type: str) -> StoredObject:
        """Store `source` (read to its end, in parts) under `key`; visible only once complete."""
        ...

    def read(self, location: str, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length) of a stored file (blocking)."""
        ...

    def iter_bytes(self, location: str, offset: int = 0) -> Iterator[bytes]:
        """The file from `offset` on, in chunks of at most READ_CHUNK (blocking)."""
        ...

    def size(self, location: str) -> int | None:
        """The stored size, or None when the file is not there (blocking)."""
        ...

    def presigned_url(self, location: str, ttl_s: int) -> str | None:
        """A link that fetches the file without credentials for `ttl_s` seconds (None: not offered)."""
        ...

    def delete(self, location: str) -> None:
        """Remove the file; a missing one is fine (blocking)."""
        ...


def is_s3_location(location: str) -> bool:
    return location.startswith(S3_SCHEME)


def asset_key(video_id: str, variant: str) -> str:
    """`<safe id>/<variant>.<ext>`: the same names as the local library, safe for any backend id."""
    asset_path(Path("/"), video_id, variant)  # refuses an unknown variant or an unsafe name
    return f"{safe_dirname(video_id)}/{variant}{VARIANT_EXT[variant]}"


class LocalStore:
    """The local library as an `AssetStore`: files under `data_dir/library`, locations relative to `data_dir`."""

    name = "local"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.library_dir = data_dir / "library"
        self.tmp_dir = data_dir / "tmp"

    def _path(self, location: str) -> Path:
        path = (self.data_dir / location).resolve()
        if not path.is_relative_to(self.library_dir.resolve()):
            raise ValueError("the location is outside the library")
        return path

    async def put(self, key: str, source: BinaryIO, content_type: str) -> StoredObject:
        video_dir, name = key.split("/", 1)
        dest = self.library_dir / video_dir / name
        fd, tmp = create_temp(self.tmp_dir, dest.suffix)

        def copy() -> tuple[int, str]:
            hasher, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                while data := source.read(READ_CHUNK):
                    hasher.update(data)
                    size += len(data)
                    out.write(data)
                out.flush()
                os.fsync(out.fileno())
            atomic_replace(tmp, dest)
            return size, hasher.hexdigest()

        try:
            size, sha = await anyio.to_thread.run_sync(copy)
        finally:
            with suppress(FileNotFoundError):
                tmp.unlink()
        return StoredObject(str(dest.relative_to(self.data_dir)), size, sha)

    def read(self, location: str, offset: int, length: int) -> bytes:
        with open(self._path(location), "rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def iter_bytes(self, location: str, offset: int = 0) -> Iterator[bytes]:
        with open(self._path(location), "rb") as fh:
            fh.seek(offset)
            while data := fh.read(READ_CHUNK):
                yield data

    def size(self, location: str) -> int | None:
        try:
            return self._path(location).stat().st_size
        except (OSError, ValueError):
            return None

    def presigned_url(self, location: str, ttl_s: int) -> str | None:
        return None  # a local file is given by its path

    def delete(self, location: str) -> None:
        with suppress(FileNotFoundError):
            self._path(location).unlink()


async def store_file(
    store: AssetStore, staged: Path, video_id: str, variant: str, content_type: str, *, size: int, sha256: str
) -> StoredObject:
    """Upload a finished download (or derived file) from the temp folder, then remove the temp file.

    The store hashes what it uploads; an object that differs from what was downloaded is deleted
    again and refused, so the ledger never records a location whose bytes it has not checked.
    """
    from sora_mcp.errors import BackendError

    try:
        source = await anyio.to_thread.run_sync(open, staged, "rb")
        try:
            stored = await store.put(asset_key(video_id, variant), source, content_type)
        finally:
            source.close()
    finally:
        with suppress(FileNotFoundError):
            staged.unlink()
    if stored.size != size or stored.sha256 != sha256:
        await anyio.to_thread.run_sync(store.delete, stored.location)
        raise BackendError(
            f"The stored {variant} of {video_id} does not match the downloaded file; it was removed again",
            fix="Try again; if it repeats, check the storage server.",
        )
    return stored


def fetch_to_temp(store: AssetStore, location: str, tmp_dir: Path, suffix: str) -> Path:
    """Copy a stored file into a new temp file (blocking); the caller removes it."""
    fd, path = create_temp(tmp_dir, suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            for data in store.iter_bytes(location):
                out.write(data)
    except BaseException:
        with suppress(FileNotFoundError):
            path.unlink()
        raise
    return path


def copy_out(location: str, dest: Path, store: AssetStore | None) -> None:
    """Write a user's copy of an archived file at `dest` (its folder must exist): streamed from the
    store for an `s3://` location, else copied from the local path; written to a `.part` file beside
    `dest`, flushed to disk and renamed over it, so `dest` is never partial and no temp file is left.
    The copy gets the permissions any new file of the user's would get (not mkstemp's 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            if store is not None and is_s3_location(location):
                for data in store.iter_bytes(location):
                    out.write(data)
            else:
                with open(location, "rb") as src:
                    shutil.copyfileobj(src, out, READ_CHUNK)
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""The library: the SQLite ledger of every job, archived asset files, downloads and temp files."""

from typing import Any

from sora_mcp.library.downloads import DownloadResult, download
from sora_mcp.library.ledger import Ledger
from sora_mcp.library.paths import asset_path, owner_library, safe_dirname
from sora_mcp.library.records import JobRecord, StatusEvent, StoredAsset
from sora_mcp.library.stores import AssetStore
from sora_mcp.library.tempfiles import PREFIX as TEMP_PREFIX
from sora_mcp.library.tempfiles import atomic_replace, create_temp, sweep_temp, temp_path

__all__ = [
    "TEMP_PREFIX",
    "DownloadResult",
    "JobRecord",
    "Ledger",
    "StatusEvent",
    "StoredAsset",
    "asset_path",
    "atomic_replace",
    "create_temp",
    "derive_spritesheet",
    "derive_thumbnail",
    "download",
    "open_store",
    "owner_library",
    "safe_dirname",
    "sweep_temp",
    "temp_path",
]


def open_store(url: str | None) -> AssetStore | None:
    """The store `SORA_MCP_ASSET_STORE` names, or None for the local library (the default).
    A bad URL or missing credentials raise ConfigError; nothing is sent over the network."""
    if not url:
        return None
    from sora_mcp.library.s3 import S3Store  # lazy: boto3 only when a bucket is configured

    return S3Store.from_url(url)


def __getattr__(name: str) -> Any:
    # derive_* need PyAV and Pillow (~40 ms to import): load them on first use, not at server start.
    if name in ("derive_spritesheet", "derive_thumbnail"):
        from sora_mcp.library import derive

        return getattr(derive, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

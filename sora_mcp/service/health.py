"""Readiness: can this instance do its work now? (The `/readyz` probe of the HTTP app.)

Each part is checked for real and named when it fails, never with a URL, a password or a
path: the ledger's database answers a query, the local library folder (files, or the staging
of uploads to a store) is there and writable, and an S3-compatible store (SORA_MCP_ASSET_STORE)
answers a lookup of one key under its prefix (endpoint reachable, credentials accepted). Reads
only; nothing is written.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import anyio

READY_KEY = ".sora-mcp-readyz"  # looked up, never written

if TYPE_CHECKING:
    from sora_mcp.service.context import ServiceContext


async def failing_parts(ctx: ServiceContext) -> list[str]:
    """Names of the parts that fail now (empty: ready)."""
    failing: list[str] = []
    if ctx.opened is None:
        return ["ledger: not open (the server is starting or stopping)"]
    ledger = ctx.opened
    try:
        await anyio.to_thread.run_sync(ledger.ping)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; only its kind is shown
        failing.append(f"database: unreachable ({type(exc).__name__})")
    library = ctx.settings.library_dir
    if not (library.is_dir() and os.access(library, os.W_OK | os.X_OK)):
        failing.append("asset store: the library folder is missing or not writable")
    store, url = ctx.store, ctx.settings.asset_store
    if store is not None and url:
        probe = url.rstrip("/") + "/" + READY_KEY  # absent is fine: the answer is what counts
        try:
            await anyio.to_thread.run_sync(store.size, probe)
        except Exception as exc:  # noqa: BLE001 - as above: the kind only, never the bucket or endpoint
            failing.append(f"asset store: the S3 store does not answer ({type(exc).__name__})")
    return failing

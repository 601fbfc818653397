"""Readiness: can this instance do its work now? (The `/readyz` probe of the HTTP app.)

Each part is checked for real and named when it fails, never with a URL, a password or a
path: the ledger's database answers a query, and the asset store (the local library folder
today) is there and writable. Reads only; nothing is written.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import anyio

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
    return failing

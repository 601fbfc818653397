"""Copying an archived asset to where the user wants it, inside the allowed folders only.

The library keeps its files private (0600, under the data directory); an agent without a
shell needs the clip somewhere the user can open it. The destination must resolve (symlinks
too) inside one of the allowed roots, and a refusal names those folders so the agent can
choose one. The copy is written to a temp file beside the target and renamed into place, so
an interrupted copy never leaves half a file; an existing file is replaced only when asked.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from sora_mcp.errors import InvalidInput
from sora_mcp.library.stores import AssetStore, copy_out
from sora_mcp.models import VARIANT_EXT, Asset


def roots_text(roots: Sequence[Path]) -> str:
    return ", ".join(str(r) for r in roots)


def _target(destination: str, asset: Asset) -> Path:
    if not destination.strip() or "\x00" in destination:
        raise InvalidInput("destination is empty or not a path", fix="Pass a file or folder path.")
    path = Path(destination).expanduser()
    name = f"{asset.video_id}{VARIANT_EXT[asset.variant]}"
    if destination.endswith(("/", os.sep)) or path.is_dir():
        return path / name
    return path if path.suffix else path.with_suffix(VARIANT_EXT[asset.variant])


def copy_asset(
    asset: Asset,
    destination: str,
    roots: Sequence[Path],
    *,
    overwrite: bool = False,
    store: AssetStore | None = None,
) -> Path:
    """Copy `asset` to `destination` (a file, or a folder for `<id>.<ext>`); returns the path written.
    A file in the S3 store is streamed from it. Blocking: run in a worker thread."""
    target = _target(destination, asset)
    allowed = [Path(r).resolve() for r in roots]
    try:
        resolved = target.resolve(strict=False)
    except (OSError, RuntimeError, ValueError):
        raise InvalidInput(
            f"destination '{destination[:200]}' could not be resolved", fix="Pass a plain path."
        ) from None
    if not any(resolved.is_relative_to(root) for root in allowed):
        raise InvalidInput(
            f"destination '{destination[:200]}' is outside the folders files may be saved to "
            f"({roots_text(allowed)})",
            fix="Pass a path inside one of those folders (SORA_MCP_ALLOWED_ROOTS sets them).",
        )
    if resolved.is_dir():
        raise InvalidInput(f"destination '{destination[:200]}' is a folder", fix="Pass a file name.")
    if resolved.exists() and not overwrite:
        raise InvalidInput(
            f"'{resolved}' already exists", fix="Choose another name, or pass overwrite=true to replace it."
        )
    resolved.parent.mkdir(parents=True, exist_ok=True)
    # The folder now exists: check again with every symlink in it resolved.
    if not any(resolved.parent.resolve().is_relative_to(root) for root in allowed):
        raise InvalidInput(
            f"destination '{destination[:200]}' leads outside the allowed folders ({roots_text(allowed)})",
            fix="Pass a path inside one of those folders.",
        )
    copy_out(asset.path, resolved, store)
    return resolved

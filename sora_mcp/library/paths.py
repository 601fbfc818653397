"""Where archived assets live: `<library_dir>/<safe id>/<variant>.<ext>`, safe for any id.

Backend ids are untrusted text: LiteLLM's are ~200-char base64 with `/`, `+`, `=`, and a
hostile backend may send `..` or NUL. A plain id (`[A-Za-z0-9_-]`, at most 64 chars) is used
as-is; anything else is sanitised, truncated and given a `.`-separated hash suffix. Plain
names never contain `.`, so a sanitised name can never equal a plain one.

Jobs of users other than the local owner (HTTP mode with users) live one level down, in
`<library_dir>/users.d/<safe user id>/`: `users.d` is neither a plain name (it has a `.`) nor a
sanitised one (no 16-hex suffix), so no video's folder can be it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sora_mcp.errors import InvalidInput
from sora_mcp.models import VARIANT_EXT
from sora_mcp.principal import LOCAL_OWNER

_PLAIN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe_dirname(video_id: str) -> str:
    """A filesystem-safe directory name, unique per id (up to a 64-bit hash collision)."""
    if not video_id:
        raise InvalidInput(
            "The video id is empty.", fix="Pass the `id` returned by create_video or list_videos."
        )
    if _PLAIN.fullmatch(video_id):
        return video_id
    digest = hashlib.sha256(video_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{_UNSAFE.sub('_', video_id)[:48]}.{digest}"


USERS_DIR = "users.d"


def owner_library(library_dir: Path, owner: str) -> Path:
    """The folder holding one user's archived jobs: the library itself for the local owner."""
    if owner == LOCAL_OWNER:
        return library_dir
    return library_dir / USERS_DIR / safe_dirname(owner)


def asset_path(library_dir: Path, video_id: str, variant: str) -> Path:
    """The library file for one variant of one video; always inside `library_dir`."""
    ext = VARIANT_EXT.get(variant)
    if ext is None:
        raise InvalidInput(
            f"Unknown variant {variant[:40]!r}.", fix=f"Use one of: {', '.join(sorted(VARIANT_EXT))}."
        )
    path = library_dir / safe_dirname(video_id) / f"{variant}{ext}"
    # Belt and braces: the name rules above already exclude separators and `..`.
    if path.parent.parent != library_dir or path.name.startswith("."):
        raise InvalidInput("The video id cannot be stored safely.", fix="Use the id the backend returned.")
    return path

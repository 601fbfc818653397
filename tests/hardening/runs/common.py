"""Shared hardening helpers: the engine+service+client stack, leak scanning, result checks.

Used by the fast pytest part and by `python -m tests.hardening.runs.long_run`, so both hold the
server to the same rules: a readable answer to every call, and no traceback, host path
outside the data directory, or API key in anything the agent (or the disk) gets.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client

from sora_mcp.config import Settings
from sora_mcp.engine import EngineConfig, EngineServer
from sora_mcp.prompting.template import strip_controls
from sora_mcp.server import build_server
from sora_mcp.service import VideoService

SECRET_KEY = "sk-hardening-SECRET-0xC0FFEE-7d1e"
REPO = Path(__file__).resolve().parents[3]
# Path-looking runs in answers: absolute POSIX paths under the usual host roots.
_ABS_PATH = re.compile(
    r"(?<![\w.])/(?:root|tmp|home|usr|etc|work|proc|dev|var|opt|srv|mnt|sys)(?:/[^\s'\"\\,;)\]}]*)?"
)
_MASKED = re.compile(r"^Error executing tool [\w-]+$")


@dataclass
class Stack:
    engine: EngineServer
    service: VideoService
    client: Client
    settings: Settings


@asynccontextmanager
async def stack(
    root: Path,
    *,
    watch: bool = False,
    api_key: str = SECRET_KEY,
    port: int = 0,
    settings: dict[str, Any] | None = None,
    **engine_knobs: Any,
) -> AsyncIterator[Stack]:
    """An engine (keyed), a VideoService with its data dir under `root`, and an in-process Client."""
    (root / "inputs").mkdir(parents=True, exist_ok=True)
    engine = EngineServer(
        EngineConfig(data_dir=root / "engine", api_key=api_key, **engine_knobs), port=port
    ).start()
    conf = Settings(
        base_url=engine.base_url,
        api_key=SECRET_KEY,
        data_dir=root / "data",
        allowed_roots=[root / "inputs"],
        watch=watch,
        **(settings or {}),
    )
    try:
        async with VideoService(conf) as service, Client(build_server(service)) as client:
            yield Stack(engine, service, client, conf)
    finally:
        engine.stop()


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") or "" for c in result.content)


def input_forms(value: Any) -> set[str]:
    """Every string inside a fuzzed argument, in the spellings an answer may echo it back."""
    out: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, str):
            shown = "".join(ch if ch.isprintable() else "?" for ch in v)
            # The prompt tools echo a prompt with its control characters removed (strip_controls).
            out.update(
                {
                    v,
                    shown,
                    strip_controls(v),
                    repr(v)[1:-1],
                    json.dumps(v)[1:-1],
                    json.dumps(v, ensure_ascii=False)[1:-1],
                }
            )
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        else:
            out.add(repr(v))

    walk(value)
    return out


def leaks(
    text: str,
    *,
    data_dir: Path,
    echoed: Iterable[str] = (),
    secret: str = SECRET_KEY,
    shared: Iterable[Path] = (),
) -> list[str]:
    """What in `text` must not reach an agent: the key, tracebacks, host paths outside the data dir.

    A path (or marker) the caller itself sent and the answer merely echoes is not a leak, nor is one
    of the `shared` folders: the allowed roots the operator configured for the agent's files, which
    a refusal names so the agent can use them (issue #21).
    """
    echoed = [e for e in echoed if e]
    found: list[str] = []
    if secret in text:
        found.append("the API key")
    for marker in ("Traceback (most recent call last)", 'File "', "site-packages"):
        if marker in text and not any(marker in e for e in echoed):
            found.append(f"marker {marker!r}")
    open_dirs = [str(data_dir.resolve())] + [str(Path(p).resolve()) for p in shared]
    for m in _ABS_PATH.finditer(text):
        path = m.group(0).rstrip(".:;,)")
        if any(path == d or path.startswith(d + "/") for d in open_dirs):
            continue
        if _echoed(path, echoed):
            continue
        found.append(f"host path {path!r}")
    return found


def _echoed(path: str, echoed: list[str]) -> bool:
    # Pydantic shortens long inputs to "<start>...<end>" in its messages, so what follows a "..."
    # may be the tail of another value; the path's own start (before any "...") must be echoed.
    head = path.split("...", 1)[0]
    return any(head in e for e in echoed)


@dataclass
class Tally:
    """Counts a run prints: every call ends in exactly one of ok / refused; the rest are failures."""

    calls: int = 0
    ok: int = 0
    refused: int = 0
    masked: list[str] = field(default_factory=list)
    leaked: list[str] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)
    shared: list[Path] = field(default_factory=list)  # the allowed roots refusals may name

    @property
    def lost(self) -> int:
        return len(self.masked) + len(self.hung)

    def add(self, tool: str, args: Any, result: Any, data_dir: Path) -> None:
        self.calls += 1
        text = text_of(result)
        where = f"{tool}({_short(args)})"
        if result.is_error:
            if not text.strip() or _MASKED.match(text.strip()):
                self.masked.append(f"{where} -> {text[:200]!r}")
            else:
                self.refused += 1
        else:
            self.ok += 1
        dumped = result.model_dump_json()
        for leak in leaks(dumped, data_dir=data_dir, echoed=input_forms(args), shared=self.shared):
            self.leaked.append(f"{where}: {leak}")

    def summary(self) -> str:
        return (
            f"{self.calls} calls: {self.ok} answered, {self.refused} refused with a message; "
            f"{self.lost} lost, {len(self.leaked)} leaked"
        )


def _short(args: Any) -> str:
    text = repr(args)
    return text if len(text) < 160 else text[:157] + "..."


def tree(*roots: Path, exclude: Iterable[Path] = ()) -> set[str]:
    """Every path under `roots` (not following symlinks), minus the excluded subtrees."""
    skip = [str(p.resolve()) for p in exclude]
    out: set[str] = set()
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            if any(dirpath == s or dirpath.startswith(s + "/") for s in skip):
                dirnames[:] = []
                continue
            dirnames[:] = [
                d
                for d in dirnames
                if d not in (".git", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache")
            ]
            out.update(p for n in filenames + dirnames if (p := os.path.join(dirpath, n)) not in skip)
    return out


def top_level(path: Path) -> set[str]:
    try:
        return {p.name for p in path.iterdir()}
    except OSError:
        return set()


def engine_sha256(base_url: str, video_id: str, key: str = SECRET_KEY) -> str:
    """The sha256 of the MP4 as the engine serves it (the truth an archived copy must match)."""
    req = urllib.request.Request(
        f"{base_url}/videos/{video_id}/content?variant=video", headers={"Authorization": f"Bearer {key}"}
    )
    h = hashlib.sha256()
    with urllib.request.urlopen(req, timeout=60) as resp:
        while chunk := resp.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def python() -> str:
    return sys.executable

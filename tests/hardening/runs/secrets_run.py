"""Drive every tool, resource, prompt and error path once, collecting everything the agent sees.

Used by the secrets test (the key must appear nowhere) and by the long run's figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

HAPPY_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_videos", {"limit": 5}),
    ("create_video", {"prompt": "x", "size": "3x3"}),
    ("create_video", {"prompt": "A red kite", "dry_run": True}),
    ("get_status", {"video_id": "video_does_not_exist"}),
    ("download_asset", {"video_id": "video_does_not_exist"}),
    ("delete_video", {"video_id": "video_does_not_exist"}),
]


async def exercise(client: Any, *, journey: bool = True) -> list[str]:
    """Everything the agent can reach once; returns every answer as JSON text."""
    seen: list[str] = []

    async def call(tool: str, args: dict[str, Any]) -> Any:
        with anyio.fail_after(150):
            result = await client.call_tool(tool, args)
        seen.append(result.model_dump_json())
        return result

    for tool, args in HAPPY_CALLS:
        await call(tool, args)
    if journey:
        created = await call(
            "create_video",
            {"prompt": "A paper boat in the rain", "size": "720x1280", "shot": {"camera": "slow push-in"}},
        )
        if not created.is_error:
            vid = created.structured_content["id"]
            await call("get_status", {"video_id": vid, "wait_seconds": 45})
            for variant in ("video", "thumbnail", "spritesheet"):
                await call("download_asset", {"video_id": vid, "variant": variant})
            for tool in ("remix_video", "extend_video", "edit_video"):
                await call(tool, {"video_id": vid, "prompt": "Same shot at night"})
            await call("get_status", {"video_ids": [vid, "video_missing"]})
            await call("delete_video", {"video_id": vid})
    seen += await _resources_and_prompts(client)
    return seen


async def _resources_and_prompts(client: Any) -> list[str]:
    seen: list[str] = []
    for res in (await client.list_resources()).resources:
        seen.append(await _read(client, str(res.uri)))
    for uri in ("sora://videos/video_does_not_exist", "sora://videos/..%2F..%2Fetc%2Fpasswd"):
        seen.append(await _read(client, uri))
    for prompt in (await client.list_prompts()).prompts:
        args = {a.name: "a lighthouse" for a in prompt.arguments or []}
        try:
            seen.append((await client.get_prompt(prompt.name, args)).model_dump_json())
        except Exception as exc:  # noqa: BLE001 - an error answer is also something the agent sees
            seen.append(str(exc))
    return seen


async def _read(client: Any, uri: str) -> str:
    try:
        return (await client.read_resource(uri)).model_dump_json()
    except Exception as exc:  # noqa: BLE001 - as above
        return str(exc)


def files_containing(root: Path, needle: bytes) -> list[str]:
    """Every file under `root` whose bytes contain `needle` (SQLite, WAL, MP4s, logs alike)."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    hits.append(str(path))
            except OSError:
                continue
    return hits

"""Row 8: what an agent pays in context for sora-mcp: tools/list, and one standard journey.

The server runs as users start it (`python -m sora_mcp serve` over stdio, embedded engine, fresh
data dir). Bytes are counted as the official MCP Client received them: tools/list as compact JSON
(`json.dumps(separators=(",", ":"))` of the tools), each result's text blocks (UTF-8) and images
(their base64, as sent). The journey: create_video → get_status with the suggested wait until
all_done → download_asset → list_videos(limit=5) over five jobs → get_spend. Tokens are
estimated as bytes / 4. Bytes are deterministic for a given code version, so one repetition is
the figure; the floor is the smallest published video-generation server measured for issue #21.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from bench_startup import sora_params
from common import Row, verdict
from mcp import Client
from servers import structured

PEER_TOOLS_BYTES = (15_474, 24_644, 20_456)  # three published servers, over stdio (issue #21)
TOOLS_BUDGET = 12_000
BUDGETS = {"create_video": 1_200, "get_status": 2_000, "list_videos": 5 * 350}
WAIT = 45


def _bytes(result: Any) -> tuple[int, int]:
    text = sum(len(c.text.encode()) for c in result.content if c.type == "text")
    images = sum(len(c.data) for c in result.content if c.type == "image")
    return text, images


async def journey(client: Any) -> dict[str, tuple[int, int]]:
    """(text bytes, image bytes) per step of the standard journey."""
    steps: dict[str, tuple[int, int]] = {}
    created = await client.call_tool(
        "create_video",
        {"prompt": "A paper boat drifting down a rainy gutter", "shot": {"camera": "slow push-in"}},
    )
    steps["create_video"] = _bytes(created)
    vid = structured(created)["id"]
    waited = (0, 0)
    for _ in range(20):
        status = await client.call_tool("get_status", {"video_id": vid, "wait_seconds": WAIT})
        waited = tuple(a + b for a, b in zip(waited, _bytes(status), strict=True))  # type: ignore[assignment]
        if structured(status)["all_done"]:
            break
    steps["get_status"] = waited
    steps["download_asset"] = _bytes(await client.call_tool("download_asset", {"video_id": vid}))
    for i in range(4):  # the list below shows five jobs
        structured(await client.call_tool("create_video", {"prompt": f"A paper boat, take {i + 2}"}))
    steps["list_videos"] = _bytes(await client.call_tool("list_videos", {"limit": 5}))
    steps["get_spend"] = _bytes(await client.call_tool("get_spend", {}))
    return steps


async def run(root: Path) -> Row:
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        async with Client(sora_params(Path(tmp) / "data")) as client:
            tools = [
                t.model_dump(mode="json", exclude_none=True, by_alias=True)
                for t in (await client.list_tools()).tools
            ]
            tools_bytes = len(json.dumps(tools, separators=(",", ":")))
            steps = await journey(client)
    text = sum(t for t, _ in steps.values())
    images = sum(i for _, i in steps.values())
    within = all(steps[name][0] <= limit for name, limit in BUDGETS.items())
    ok = tools_bytes <= TOOLS_BUDGET and within
    per_step = ", ".join(f"{name} {t:,}" + (f"+{i:,} img" if i else "") for name, (t, i) in steps.items())
    return Row(
        figure="agent bytes: `tools/list`, and per journey (create → wait → download → list of 5 → spend)",
        floor=f"published video-generation MCP servers' tools/list: {min(PEER_TOOLS_BYTES):,}–"
        f"{max(PEER_TOOLS_BYTES):,} B (issue #21)",
        measured=(
            f"tools/list {tools_bytes:,} B (≈{tools_bytes / 4:,.0f} tokens, {len(tools)} tools); journey "
            f"{text:,} B text + {images:,} B images = {text + images:,} B (≈{(text + images) / 4:,.0f} "
            f"tokens): {per_step}"
        ),
        ratio=f"{tools_bytes / min(PEER_TOOLS_BYTES):.2f}× the smallest peer's tools/list",
        target=f"tools/list ≤ {TOOLS_BUDGET:,} B; create ≤ 1,200, get_status ≤ 2,000 text + 1 thumbnail, "
        "list ≤ 350 per job",
        meets=verdict(ok),
        how=(
            "one stdio server (`python -m sora_mcp serve`, embedded engine, fresh data dir) driven by the official "
            "MCP Client; tools/list as compact JSON; each result's text blocks (UTF-8) and images (base64 as "
            f"sent); get_status called with wait_seconds={WAIT} until all_done, all calls summed; "
            "tokens ≈ bytes / 4; bytes are deterministic, so one run"
        ),
        detail={"tools_bytes": tools_bytes, "steps": {k: list(v) for k, v in steps.items()}},
    )

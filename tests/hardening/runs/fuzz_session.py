"""One fuzz session: a live stack in a blocking portal, seeded with a real completed job.

The completed job's id is in the id pool so remix/extend/edit/download reach the backend;
afterwards the engine fails every new job at once (`fail_rate=1`), so fuzzed creates that pass
validation are real jobs but cost no rendering.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal

from tests.hardening.runs.common import Stack, Tally, stack
from tests.hardening.runs.fuzz import run_fuzz

SANITY = ("list_videos", {"limit": 1})


async def _seed(s: Stack) -> list[str]:
    created = await s.client.call_tool(
        "create_video", {"prompt": "A lighthouse at night", "size": "720x1280"}
    )
    vid = created.structured_content["id"]
    done = await s.client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45})
    assert done.structured_content["all_done"], done
    s.engine.set_faults(fail_rate=1.0)
    return [vid]


def fuzz_session(
    root: Path, *, examples: int, seed: int | None = None, rounds: int = 1
) -> tuple[Tally, dict[str, Any]]:
    """Run `rounds` × `examples` fuzzed calls; returns the tally and facts about the server after."""
    tally = Tally()
    facts: dict[str, Any] = {}
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(stack(root)) as s:
        ids = portal.call(_seed, s)
        tally.shared = s.settings.roots()
        tools = portal.call(s.client.list_tools).tools
        facts["tools"] = sorted(t.name for t in tools)
        for r in range(rounds):
            run_fuzz(
                portal,
                s.client,
                tools,
                ids,
                s.settings.data_dir,
                tally,
                examples=examples,
                seed=None if seed is None else seed + r,
            )
            # Still alive and answering after every round.
            alive = portal.call(s.client.call_tool, *SANITY)
            facts.setdefault("alive", []).append(not alive.is_error)
        facts["jobs_created"] = s.engine.stats.count("POST", "/v1/videos*")
        facts["tmp_left"] = sorted(p.name for p in s.settings.tmp_dir.iterdir())
    return tally, facts

"""Row 4: polls per completed job with the engine's poll-after set, against ceil(render time / poll-after).

The server runs as users run it (stdio, background watcher on). Per repetition: `create_video`,
then `get_status(wait_seconds=45)` until all_done; afterwards we count the `GET /v1/videos/{id}` the engine
answered for that job — the waiter's and the watcher's polls together (they share one schedule).
Render time = from the create call returning to the engine renaming the finished files into the
job's folder (the engine's own file times); a slowdown knob stretches renders so a poll-after of
a fraction of a second is a realistic proportion.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import anyio
from bench_startup import sora_params
from common import EngineProcess, Row, summary, verdict
from mcp import Client
from servers import create_job, wait_done

SLACK = 2


async def run(reps: int, root: Path, *, poll_after_ms: int = 250, slowdown: float = 1.75) -> Row:
    engine = EngineProcess(root / "engine-polls", poll_after_ms=poll_after_ms, render_slowdown=slowdown)
    polls: list[int] = []
    floors: list[int] = []
    renders: list[float] = []
    try:
        async with Client(sora_params(root / "server-polls", engine.base_url)) as client:
            for rep in range(reps):
                vid = await create_job(client, f"Bench poll job {rep}: a lighthouse beam sweeping fog")
                created = time.time()
                await wait_done(client, [vid], 120)
                await anyio.sleep(2 * poll_after_ms / 1000)  # any straggling watcher poll lands in the count
                span = engine.render_span(vid)
                if span is None:
                    raise RuntimeError(f"no render files for {vid} in the engine's data dir")
                render_s = max(0.0, span[1] - created)
                renders.append(render_s)
                floors.append(math.ceil(render_s / (poll_after_ms / 1000)))
                polls.append(engine.count("GET", f"/v1/videos/{vid}"))
    finally:
        engine.close()
    excess = [p - f for p, f in zip(polls, floors, strict=True)]
    ps, fs, rs = summary(polls), summary(floors), summary(renders)
    return Row(
        figure="polls per completed job (engine with poll-after set)",
        floor=(
            f"ceil(render time / poll-after) = {fs['median']:g} (per rep {floors}); "
            f"render {rs['median']:.2f} s ({rs['min']:.2f}–{rs['max']:.2f}), poll-after {poll_after_ms} ms"
        ),
        measured=f"{ps['median']:g} GET /v1/videos/{{id}} per job (per rep {polls})",
        ratio=f"+{summary(excess)['median']:g} (max +{max(excess)})",
        target=f"≤ floor + {SLACK}",
        meets=verdict(max(excess) <= SLACK),
        how=(
            f"{reps} jobs one after another; stdio server with the background watcher on; create_video then "
            "get_status(wait_seconds=45) until all_done; engine request log counted per job id (waiter + watcher); engine "
            f"render_slowdown {slowdown} so a 4 s clip renders for seconds"
        ),
        detail={"polls": polls, "floors": floors, "render_s": renders},
    )

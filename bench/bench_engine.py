"""Row 6: the engine's render + encode of a 4 s 1280x720 clip vs encoding the same constant frames.

A thin wrapper over `bench_render.run(reps)` (the renderer's own benchmark, which measures both
in one process, interleaved); this only turns its result into a results-table row.
"""

from __future__ import annotations

import bench_render
from common import Row, verdict


def run(reps: int) -> Row:
    result = bench_render.run(reps)
    floor = result["floor"]
    cases = result["render"]
    video = result["video_only"]
    worst = max(case["ratio"] for part in (cases, video["render"]) for case in part.values())
    target = result.get("target_ratio", 1.5)

    def spread(d: dict) -> str:
        return f"{d['median_s'] * 1000:.0f} ms ({d['min_s'] * 1000:.0f}–{d['max_s'] * 1000:.0f}, n={reps})"

    frames = getattr(bench_render, "SECONDS", 4) * getattr(bench_render, "FPS", 24)
    measured = "; ".join(f"render {name}: {spread(case)}" for name, case in cases.items())
    measured += "; without sound: " + "; ".join(
        f"render {name}: {spread(case)}" for name, case in video["render"].items()
    )
    return Row(
        figure="engine render + encode of a 4 s 1280x720 clip",
        floor=(
            f"encode {frames} constant frames + the same audio: {spread(floor)}; without sound: "
            f"{frames} constant frames alone: {spread(video['floor'])}"
        ),
        measured=measured,
        ratio=(
            " / ".join(f"{case['ratio']:.2f}×" for case in cases.values())
            + " with sound; "
            + " / ".join(f"{case['ratio']:.2f}×" for case in video["render"].values())
            + " without"
        ),
        target=f"≤ {target}×",
        meets=verdict(worst <= target),
        how=(
            f"bench/bench_render.py run({reps}) in-process: {result['clip']}; same encoder settings "
            f"({', '.join(f'{k}={v}' for k, v in result['encoder'].items())}); render includes drawing, audio "
            "synthesis, thumbnail and spritesheet; floor and renders interleaved, 1 warm-up each. The render "
            "overlaps its sound with the video, the floor encodes them one after the other, so the same pair "
            "is also timed without sound (the prompt minus its Audio: line vs the constant frames alone); "
            "both must be within the target"
        ),
        detail=result,
    )

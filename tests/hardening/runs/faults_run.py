"""Fault scenarios on the engine's knobs, each ending in checks a user would notice.

Every scenario drives the journey (create → wait → download) the way an agent would —
calling again after a readable refusal — and returns what happened; `check_outcome` then
asserts: no duplicate job, no partial file, the job in the ledger, the file's sha256 equal
to the engine's, every refusal readable and free of leaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from sora_mcp.engine import EngineServer
from tests.hardening.runs.common import Stack, engine_sha256, file_sha256, input_forms, leaks, text_of

CLEAR = {
    "latency_ms": 0,
    "response_delay_ms": 0,
    "rate_limit_every_n": 0,
    "error_rate_5xx": 0.0,
    "fail_rate": 0.0,
    "drop_download_after_bytes": None,
}


@dataclass
class Outcome:
    name: str
    video_id: str | None = None
    status: str | None = None
    path: str | None = None
    refusals: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    faults_seen: int = 0


async def persist(
    s: Stack, out: Outcome, tool: str, args: dict[str, Any], *, tries: int = 30, done: Any = None
) -> Any:
    """Call until it answers (and `done(result)` holds), as an agent would; refusals are kept."""
    result = None
    for _ in range(tries):
        with anyio.fail_after(150):
            result = await s.client.call_tool(tool, args)
        text = text_of(result)
        out.problems += [
            f"{tool}: {x}"
            for x in leaks(
                result.model_dump_json(),
                data_dir=s.settings.data_dir,
                echoed=input_forms(args),
                shared=s.settings.roots(),
            )
        ]
        if not result.is_error and (done is None or done(result)):
            return result
        if result.is_error:
            if text.startswith("Error executing tool") and ":" not in text:
                out.problems.append(f"{tool}: masked error {text!r}")
            out.refusals.append(text)
        await anyio.sleep(0.2)
    return result


def _done(result: Any) -> bool:
    return bool(result.structured_content and result.structured_content.get("all_done"))


async def journey(s: Stack, out: Outcome, prompt: str = "A kite over dunes") -> Outcome:
    jobs_before = s.engine.jobs_count()
    created = await persist(s, out, "create_video", {"prompt": prompt, "size": "720x1280"})
    if created is None or created.is_error:
        out.problems.append(f"create never succeeded: {out.refusals[-1:]}")
        return out
    out.video_id = created.structured_content["id"]
    waited = await persist(s, out, "get_status", {"video_id": out.video_id, "wait_seconds": 30}, done=_done)
    out.status = waited.structured_content["jobs"][0]["status"] if not waited.is_error else None
    if out.status == "completed":
        got = await persist(s, out, "download_asset", {"video_id": out.video_id})
        out.path = None if got.is_error else got.structured_content["path"]
    out.faults_seen = sum(1 for *_, st in s.engine.stats.requests if st in (429, 500, 502, 503))
    if s.engine.jobs_count() - jobs_before != 1:
        out.problems.append(f"{s.engine.jobs_count() - jobs_before} engine jobs for one create (duplicate?)")
    return out


def check_outcome(s: Stack, out: Outcome, *, expect: str = "completed") -> list[str]:
    """What went wrong, as readable lines (empty = all good)."""
    problems = list(out.problems)
    if out.status != expect:
        problems.append(f"{out.name}: ended {out.status}, expected {expect}")
    if out.video_id is not None and s.service.ledger.get(out.video_id) is None:
        problems.append(f"{out.name}: {out.video_id} is not in the ledger")
    leftovers = [p.name for p in s.settings.tmp_dir.iterdir()]
    if leftovers:
        problems.append(f"{out.name}: partial/temp files left: {leftovers}")
    if expect == "completed":
        if out.path is None or not Path(out.path).is_file():
            problems.append(f"{out.name}: no archived file (last refusal: {out.refusals[-1:]})")
        else:
            s.engine.set_faults(**CLEAR)
            if file_sha256(Path(out.path)) != engine_sha256(s.engine.base_url, out.video_id or ""):
                problems.append(f"{out.name}: archived file differs from the engine's")
    for text in out.refusals:
        if len(text) < 20:
            problems.append(f"{out.name}: unreadable refusal {text!r}")
    return problems


def restart_engine(s: Stack) -> None:
    """Stop the engine and start a new one on the same data dir and port (jobs survive in its store)."""
    config, port = s.engine.config, s.engine.port
    s.engine.stop()
    s.engine = EngineServer(config, port=port).start()


# name -> (knobs while the journey runs, expected end status)
SCENARIOS: dict[str, tuple[dict[str, Any], str]] = {
    "429 storm (every 2nd request)": ({"rate_limit_every_n": 2, "retry_after_s": 0}, "completed"),
    "5xx on 40% of requests": ({"error_rate_5xx": 0.4, "fault_seed": 7}, "completed"),
    "latency spikes (400 ms per request)": ({"latency_ms": 400}, "completed"),
    "connection dropped mid-download": ({"drop_download_after_bytes": 100_000}, "completed"),
    "job fails (fail_rate=1)": ({"fail_rate": 1.0}, "failed"),
}


async def scenario(s: Stack, name: str) -> tuple[Outcome, list[str]]:
    knobs, expect = SCENARIOS[name]
    s.engine.stats.reset()
    s.engine.set_faults(**{**CLEAR, **knobs})
    out = await journey(s, Outcome(name))
    if not out.faults_seen:
        out.faults_seen = _injected(s, knobs)
    s.engine.set_faults(**CLEAR)
    return out, check_outcome(s, out, expect=expect)


def _injected(s: Stack, knobs: dict[str, Any]) -> int:
    # Faults that do not show as an error status: count the requests they touched.
    if knobs.get("latency_ms"):
        return len(s.engine.stats)
    if knobs.get("drop_download_after_bytes"):
        return sum(1 for m, path, _ in s.engine.stats.requests if m == "GET" and path.endswith("/content"))
    return 1 if knobs.get("fail_rate") else 0


async def restart_mid_job(s: Stack) -> tuple[Outcome, list[str]]:
    """The engine stops while rendering and a new one starts on the same data dir and port."""
    out = Outcome("engine restarted mid-job")
    s.engine.set_faults(**CLEAR, render_slowdown=3.0)
    jobs_before = s.engine.jobs_count()
    created = await persist(s, out, "create_video", {"prompt": "A slow tide", "size": "720x1280"})
    out.video_id = created.structured_content["id"]
    await persist(
        s,
        out,
        "get_status",
        {"video_id": out.video_id},
        done=lambda r: r.structured_content["jobs"][0]["progress"] > 0,
    )
    restart_engine(s)
    s.engine.set_faults(render_slowdown=1.0)
    out.faults_seen = 1
    waited = await persist(s, out, "get_status", {"video_id": out.video_id, "wait_seconds": 30}, done=_done)
    out.status = None if waited.is_error else waited.structured_content["jobs"][0]["status"]
    got = await persist(s, out, "download_asset", {"video_id": out.video_id})
    out.path = None if got.is_error else got.structured_content["path"]
    if s.engine.jobs_count() - jobs_before != 1:
        out.problems.append("the restart duplicated or lost the job")
    return out, check_outcome(s, out)


async def engine_down(s: Stack, known_id: str | None) -> tuple[Outcome, list[str]]:
    """With the engine stopped: readable refusals, nothing half-recorded; then it comes back."""
    out = Outcome("engine down")
    jobs_before = s.engine.jobs_count()
    config, port = s.engine.config, s.engine.port
    s.engine.stop()
    calls: list[tuple[str, dict[str, Any]]] = [
        ("create_video", {"prompt": "A quiet harbour"}),
        ("list_videos", {"limit": 5}),
    ]
    if known_id:
        calls += [("get_status", {"video_id": known_id}), ("download_asset", {"video_id": known_id})]
    for tool, args in calls:
        await persist(s, out, tool, args, tries=1)
        out.faults_seen += 1
    created = [r for r in out.refusals if "harbour" in r]
    if created:
        out.problems.append("a create answered while the engine was down")
    s.engine = EngineServer(config, port=port).start()
    if s.engine.jobs_count() != jobs_before:
        out.problems.append("a job appeared on the engine from a refused create")
    out.status = "down"
    problems = check_outcome(s, out, expect="down")
    if not any("create_video" in r or "backend" in r.lower() or "reach" in r.lower() for r in out.refusals):
        problems.append(f"engine down: refusals do not say what happened: {out.refusals}")
    return out, problems

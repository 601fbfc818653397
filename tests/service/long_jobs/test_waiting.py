"""get_status(video_ids=[...]) waits on several jobs at once: one combined progress stream whose
messages name the job that moved, ending when all end; polls are counted in the ledger. Files are
archived in the background: a wait on several jobs does not wait on downloads, a wait on one does."""

from __future__ import annotations

import asyncio
import threading

import anyio
import pytest
from mcp import Client

from tests.backends.fakes import FakeServer, FakeVideos, real_mp4
from tests.conditions import eventually
from tests.service.long_jobs.conftest import priced_settings, served, structured

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_multi_id_wait_reports_combined_progress_and_ends_when_all_end(
    engine_factory, tmp_path, mode
) -> None:
    engine = engine_factory(
        poll_after_ms=150, rate_limit_every_n=7, retry_after_s=0
    )  # 429s do not end the wait
    progress: list[tuple[float, float | None, str]] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append((p, total, message or ""))

    async with (
        served(priced_settings(engine, tmp_path)) as (service, server),
        Client(server, mode=mode) as client,
    ):
        batch = structured(
            await client.call_tool(
                "create_batch",
                {
                    "jobs": [
                        {"prompt": f"Clip {n}: a paper lantern rising", "size": "720x1280"} for n in range(3)
                    ]
                },
            )
        )
        ids = [r["job"]["id"] for r in batch["results"]]
        waited = structured(
            await client.call_tool(
                "get_status", {"video_ids": ids, "wait_seconds": 45}, progress_callback=on_progress
            )
        )
        polls = {vid: service.ledger.get(vid).polls for vid in ids}
    assert waited["all_done"] and not waited["timed_out"]
    assert [j["id"] for j in waited["jobs"]] == ids and all(
        j["status"] == "completed" for j in waited["jobs"]
    )
    values = [p for p, _, _ in progress]
    assert values == sorted(values) and len(set(values)) == len(values), "progress must only go up"
    assert progress[-1][0] == progress[-1][1] == 300.0
    for vid in ids:
        assert any(m.startswith(f"{vid}:") for _, _, m in progress), f"no progress message named {vid}"
    assert all(n >= 2 for n in polls.values()), polls


async def test_wait_that_runs_out_of_time_says_so_and_the_jobs_go_on(engine_factory, tmp_path) -> None:
    engine = engine_factory(render_slowdown=20.0, poll_after_ms=200)
    async with served(priced_settings(engine, tmp_path)) as (_, server), Client(server) as client:
        first = structured(await client.call_tool("create_video", {"prompt": "A long slow tide"}))
        second = structured(await client.call_tool("create_video", {"prompt": "A longer slower tide"}))
        waited = structured(
            await client.call_tool(
                "get_status", {"video_ids": [first["id"], second["id"]], "wait_seconds": 1}
            )
        )
    assert waited["timed_out"] and not waited["all_done"]
    assert "get_status again" in waited["next_step"]
    assert {j["status"] for j in waited["jobs"]} <= {"queued", "in_progress"}


async def test_the_poll_that_sees_a_job_end_answers_every_waiter_already_waiting(
    engine_factory, tmp_path
) -> None:
    # The background watcher and a get_status wait share one schedule per job. When one of them
    # sees the job end, the other (already waiting) gets that answer without asking again; a wait
    # that starts later asks the backend; a deleted job is forgotten.
    engine = engine_factory(poll_after_ms=100)

    async def gets_settled(path: str) -> int:
        # The engine logs a request just after answering it: let the log catch up.
        seen, quiet = engine.stats.count("GET", path), 0
        while quiet < 3:
            await anyio.sleep(0.05)
            now = engine.stats.count("GET", path)
            seen, quiet = now, (quiet + 1 if now == seen else 0)
        return seen

    async with served(priced_settings(engine, tmp_path)) as (service, server), Client(server) as client:
        vid = structured(
            await client.call_tool("create_video", {"prompt": "A lantern drifting over a lake"})
        )["id"]
        poller, path = service.poller, f"/v1/videos/{vid}"
        waiting_since = anyio.current_time()
        while (job := await poller.poll(vid, since=waiting_since)).status not in ("completed", "failed"):
            await anyio.sleep(max(0.0, poller.due(vid) - anyio.current_time()))
        assert job.status == "completed"
        asked = await gets_settled(path)
        shared = await poller.poll(vid, since=waiting_since)  # a waiter that was waiting all along
        assert shared.status == "completed" and await gets_settled(path) == asked
        later = await poller.poll(vid, since=anyio.current_time())  # a wait that starts now asks
        assert later.status == "completed" and await gets_settled(path) == asked + 1
        await client.call_tool("delete_video", {"video_id": vid})
        gone = await poller.poll(vid, since=waiting_since)  # forgotten on delete: asked again
        assert gone.status == "deleted" and await gets_settled(path) == asked + 2


class _HeldDownloads(FakeVideos):
    """A backend whose file downloads wait until the test lets them through (a slow CDN)."""

    def __init__(self) -> None:
        super().__init__()
        self.use_mp4(real_mp4())
        self.release = threading.Event()
        self.held = threading.Event()  # a download has arrived and is being held

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "openai-poll-after-ms": "100"}

    async def content(self, request):  # type: ignore[no-untyped-def]
        self.held.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        return await super().content(request)


async def test_a_wait_on_several_jobs_answers_when_they_end_and_their_files_follow(tmp_path) -> None:
    fake = _HeldDownloads()
    with FakeServer(fake) as backend:
        async with served(priced_settings(backend, tmp_path)) as (service, server), Client(server) as client:
            ids = [
                structured(await client.call_tool("create_video", {"prompt": f"Clip {n}: a kite"}))["id"]
                for n in range(2)
            ]
            with anyio.fail_after(30):  # a wait that downloaded before answering would hang here
                waited = structured(
                    await client.call_tool("get_status", {"video_ids": ids, "wait_seconds": 45})
                )
            assert waited["all_done"] and [j["status"] for j in waited["jobs"]] == ["completed", "completed"]
            assert [j["assets"] for j in waited["jobs"]] == [[], []]  # their downloads are still held
            fake.release.set()
            for vid in ids:
                with anyio.fail_after(30):
                    await service.archived(vid)
                variants = {a.variant for a in service.ledger.get(vid).assets}
                assert variants == {"video", "thumbnail", "spritesheet"}, variants
            again = structured(await client.call_tool("get_status", {"video_ids": ids}))
            assert all(len(j["assets"]) == 3 for j in again["jobs"])


async def test_a_wait_on_one_job_answers_with_its_files(tmp_path) -> None:
    fake = _HeldDownloads()
    with FakeServer(fake) as backend:
        async with served(priced_settings(backend, tmp_path)) as (_, server), Client(server) as client:
            vid = structured(await client.call_tool("create_video", {"prompt": "A kite over dunes"}))["id"]
            answer: dict = {}

            async def wait() -> None:
                answer.update(
                    structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45}))
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                # the job ended and its archive download is being held: the wait must not answer yet
                await eventually(fake.held.is_set, what="the archive download to be held")
                await anyio.sleep(0.5)  # a window for a wrong early answer to show (an absence)
                assert answer == {}, "the wait answered before the job's files were archived"
                fake.release.set()
            [job] = answer["jobs"]
            assert job["status"] == "completed" and {a["variant"] for a in job["assets"]} == {
                "video",
                "thumbnail",
                "spritesheet",
            }
            assert "archived" in job["next_step"]

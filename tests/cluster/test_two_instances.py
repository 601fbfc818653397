"""Two `sora-mcp serve --http --stateless` instances on one PostgreSQL and one data folder (issue #23).

MCP clients (the official `Client`, 2026-07-28 and 2025-11-25 alternating) create on one
instance and wait on the other. Counted on the engine's request log and in the database:

- every job archived exactly once: one assets row per (job, variant), one file each (size and
  sha256 as recorded), and each job's files downloaded from the engine once (len(VARIANTS) GETs
  of its content);
- 0 duplicate creates: exactly as many `POST /v1/videos` as jobs;
- no poll beyond the schedule: consecutive polls of a job (whichever instance makes them) are at
  least one poll-after interval apart (`procs.min_gap_s`; the most time there can have been
  between them, from reading the engine's log every 0.2 s, is checked),
  and per job at most `procs.poll_bound` GETs (one per interval of its lifetime on the engine,
  +2). Two instances polling on their own fail the first check (tried: 2026-12-07);
- 4 users (a tokens file made with `sora-mcp users add`), each with clients on both instances:
  each user's `list_videos` on either instance shows exactly that user's jobs, another user's
  job id answers as unknown, and the admin token (SORA_MCP_AUTH_TOKEN) lists every job;
- `kill -9` one instance while waits run on it: the other finishes every job (0 lost), and only
  archives the dead one had under way are downloaded a second time.

Size: SORA_MCP_CLUSTER_JOBS (default 200), SORA_MCP_CLUSTER_USERS (default 4) and
SORA_MCP_CLUSTER_KILL_JOBS (default 40); the
clips are the engine's smallest (4 s, 1280x720), 8 render workers.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest

from tests.cluster.procs import (
    POLL_AFTER_MS,
    TOKEN,
    VARIANTS,
    Cluster,
    PollClock,
    client,
    cluster,
    counts,
    lifetime,
    min_gap_s,
    poll_bound,
)
from tests.pg import PostgresCluster

pytestmark = pytest.mark.anyio
JOBS = int(os.environ.get("SORA_MCP_CLUSTER_JOBS", "200"))
KILL_JOBS = int(os.environ.get("SORA_MCP_CLUSTER_KILL_JOBS", "40"))
WORKERS = 12  # MCP clients at once (each holds a session per instance)
WAIT_S = 20.0


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, " ".join(getattr(c, "text", "") for c in result.content)[:400]
    assert result.structured_content is not None
    return dict(result.structured_content)


async def wait_done(c: Any, video_id: str, deadline: float) -> dict[str, Any]:
    while True:
        got = structured(await c.call_tool("get_status", {"video_id": video_id, "wait_seconds": WAIT_S}))
        job = got["jobs"][0]
        if got["all_done"] and (job["status"] != "completed" or job["assets"]):
            return dict(job)
        assert time.monotonic() < deadline, f"{video_id} not done: {job['status']}"


def db_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())


def check_archived_once(c: Cluster, ids: list[str]) -> None:
    """One assets row per (job, variant), its file intact; no other files in the library."""
    rows = db_rows(c.database_url, "SELECT video_id, variant, path, size, sha256 FROM assets")
    mine = [r for r in rows if r[0] in set(ids)]
    assert sorted((r[0], r[1]) for r in mine) == sorted((v, var) for v in ids for var in VARIANTS)
    for _, _, rel, size, sha in mine:
        data = (c.data_dir / rel).read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha, rel
    files = [p for p in (c.data_dir / "library").rglob("*") if p.is_file()]
    assert len(files) == len(rows), "a file in the library that no assets row names (archived twice?)"


def check_user_sees_jobs(user: str, listed: list[str], ids: list[str]) -> None:
    # Each user's list holds exactly that user's jobs (none missing, none of another user's).
    assert len(listed) == len(set(listed)), f"{user}: a job listed twice"
    assert sorted(listed) == sorted(ids), f"{user}: listed {len(listed)} jobs, made {len(ids)}"


async def list_all(c: Any) -> list[str]:
    out: list[str] = []
    after = None
    while True:
        args: dict[str, Any] = {"limit": 100} | ({"after": after} if after else {})
        page = structured(await c.call_tool("list_videos", args))
        out += [j["id"] for j in page["data"]]
        after = page.get("next_after")
        if not after:
            return out


async def test_two_instances_share_the_work_once(
    postgres_cluster: PostgresCluster, database_url: str, tmp_path: Path
) -> None:
    with cluster(tmp_path, database_url) as c:
        clock = PollClock(c)
        urls = [inst.url for inst in c.instances]
        ids: list[str | None] = [None] * JOBS
        owner: dict[str, str] = {}
        next_job = iter(range(JOBS))
        deadline = time.monotonic() + 60 + JOBS * 3

        async def worker(w: int) -> None:
            user, token = c.users[w % len(c.users)]
            mode = "auto" if w % 2 == 0 else "legacy"
            async with client(urls[0], token, mode) as a, client(urls[1], token, mode) as b:
                clients = (a, b)
                for i in next_job:
                    maker, waiter = clients[i % 2], clients[(i + 1) % 2]  # create here, wait there
                    job = structured(
                        await maker.call_tool(
                            "create_video",
                            {
                                "prompt": f"A paper boat on a pond, take {i}",
                                "size": "1280x720",
                                "seconds": "4",
                            },
                        )
                    )
                    ids[i] = vid = job["id"]
                    owner[vid] = user
                    done = await wait_done(waiter, vid, deadline)
                    assert done["status"] == "completed", done

        async with anyio.create_task_group() as tg:
            for w in range(WORKERS):
                tg.start_soon(worker, w)
        all_ids = [v for v in ids if v is not None]
        assert len(set(all_ids)) == JOBS

        # Background archives may still be finishing: wait (on a condition) for every assets row.
        want = JOBS * len(VARIANTS)
        with anyio.fail_after(120):
            while db_rows(database_url, "SELECT count(*) FROM assets")[0][0] < want:
                await anyio.sleep(0.2)
        clock.stop()
        log = c.requests()
        creates, polls, downloads = counts(log)
        assert creates == JOBS, f"{creates} creates for {JOBS} jobs"
        close = {v: [round(g, 2) for g in gs if g < min_gap_s()] for v, gs in clock.gaps().items()}
        close = {v: gs for v, gs in close.items() if gs}
        assert not close, f"polls closer than {min_gap_s():.2f} s: {list(close.items())[:5]}"
        assert {downloads[v] for v in all_ids} == {len(VARIANTS)}, downloads.most_common(3)
        check_archived_once(c, all_ids)
        engine_jobs = {v: c.engine_job(v) for v in all_ids}
        bounds = {v: poll_bound(engine_jobs[v]) for v in all_ids}
        over = {v: (polls[v], bounds[v]) for v in all_ids if polls[v] > bounds[v]}
        assert not over, f"polled beyond the schedule (polls, bound): {list(over.items())[:5]}"
        # In sum, at most one poll per interval of each job's life plus the one that sees it end.
        total = sum(polls[v] for v in all_ids)
        schedule = sum(math.ceil(lifetime(engine_jobs[v]) * 1000 / POLL_AFTER_MS) + 1 for v in all_ids)
        assert total <= schedule, (total, schedule)
        print(
            f"\n{JOBS} jobs: {creates} creates, polls per job max {max(polls[v] for v in all_ids)}, "
            f"sum {total} vs schedule {schedule} (per-job bounds sum {sum(bounds.values())})"
        )
        assert set(owner.values()) == {u for u, _ in c.users}
        for n, (user, token) in enumerate(c.users):
            async with client(urls[0], token, "auto") as a, client(urls[1], token, "legacy") as b:
                mine = [v for v in all_ids if owner[v] == user]
                check_user_sees_jobs(user, await list_all(a), mine)
                check_user_sees_jobs(user, await list_all(b), mine)
                if len(c.users) < 2:
                    continue
                # Another user's job is an unknown id to this user, on either instance.
                theirs = next(v for v in all_ids if owner[v] == c.users[(n + 1) % len(c.users)][0])
                for cl in (a, b):
                    got = await cl.call_tool("get_status", {"video_id": theirs})
                    text = " ".join(getattr(x, "text", "") for x in got.content)
                    assert got.is_error and f"No video with id '{theirs}'" in text, text[:300]
        async with client(urls[1], TOKEN, "auto") as admin:
            check_user_sees_jobs("admin", await list_all(admin), all_ids)


async def test_kill_one_instance_mid_wait_the_other_finishes_every_job(
    postgres_cluster: PostgresCluster, database_url: str, tmp_path: Path
) -> None:
    with cluster(tmp_path, database_url) as c:
        victim, survivor = c.instances
        _, token = c.users[0]
        ids: list[str] = []
        async with client(victim.url, token, "auto") as a, client(survivor.url, token, "legacy") as b:
            for i in range(KILL_JOBS):
                job = structured(
                    await (a, b)[i % 2].call_tool(
                        "create_video", {"prompt": f"Fireflies over a meadow, take {i}", "seconds": "4"}
                    )
                )
                ids.append(job["id"])
        results: dict[str, dict[str, Any]] = {}
        errors_on_victim = 0
        killed = anyio.Event()
        held: set[str] = set()
        deadline = time.monotonic() + 120 + KILL_JOBS * 4

        async def waiter(vid: str, first: int) -> None:
            nonlocal errors_on_victim
            order = [c.instances[first], survivor]
            for inst in order:
                try:
                    async with client(inst.url, token, "auto") as cl:
                        results[vid] = await wait_done(cl, vid, deadline)
                        return
                except Exception:  # noqa: BLE001 - the killed instance drops its calls; go to the other
                    assert inst is victim, f"the survivor failed on {vid}"
                    errors_on_victim += 1
                    await killed.wait()

        async def kill_when_half_done() -> None:
            with anyio.fail_after(300):
                while db_rows(database_url, "SELECT count(*) FROM jobs WHERE status = 'completed'")[0][
                    0
                ] < max(1, KILL_JOBS // 3):
                    await anyio.sleep(0.1)
            victim.kill()
            # What it held when it died (taken over only after the lease lapses): its archives
            # under way are the only ones downloaded a second time.
            dead = f"%:{victim.proc.pid}:%"
            with psycopg.connect(database_url) as conn:
                held.update(
                    k
                    for (k,) in conn.execute(
                        "SELECT key FROM claims WHERE kind = 'archive' AND owner LIKE %s", (dead,)
                    ).fetchall()
                )
            killed.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_when_half_done)
            for n, vid in enumerate(ids):
                tg.start_soon(waiter, vid, n % 2)
        assert all(results[v]["status"] == "completed" for v in ids), "a job was lost"
        want = KILL_JOBS * len(VARIANTS)
        with anyio.fail_after(120):
            while db_rows(database_url, "SELECT count(*) FROM assets")[0][0] < want:
                await anyio.sleep(0.2)
        log = c.requests()
        creates, polls, downloads = counts(log)
        assert creates == KILL_JOBS
        check_archived_once(c, ids)
        twice = {v for v in ids if downloads[v] != len(VARIANTS)}
        assert all(downloads[v] >= len(VARIANTS) for v in ids)
        assert twice <= held, (twice, held)
        over = {v: polls[v] for v in ids if polls[v] > poll_bound(c.engine_job(v))}
        assert not over, over
        print(
            f"\nkilled mid-wait: {errors_on_victim} waits moved to the survivor, {len(twice)} archives redone"
        )

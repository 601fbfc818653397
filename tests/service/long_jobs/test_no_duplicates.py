"""One request never becomes two billed jobs: a create that times out after the engine accepted it
(`response_delay_ms` longer than the client's `request_timeout_s`) ends with exactly one engine job,
found by listing (backends without idempotency) or by resending the same Idempotency-Key (engine)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from mcp import Client

from tests.conditions import eventually
from tests.service.long_jobs.conftest import priced_settings, served, structured, text

pytestmark = pytest.mark.anyio
PROMPT = "A slow pan across a foggy harbour at dawn"


@contextmanager
def delay_lifted_once_accepted(engine: Any, delay_ms: int = 1500) -> Iterator[None]:
    """Answers are held back `delay_ms` (the client times out) until the engine has made a job;
    then the delay is lifted, so the reconciliation that follows can be answered."""
    engine.set_faults(response_delay_ms=delay_ms)
    stop = threading.Event()

    def lift() -> None:
        while not stop.is_set():
            # the engine logs an answer, then holds it back: logged means the create is being delayed
            if engine.stats.count("POST", "/v1/videos") >= 1:
                engine.set_faults(response_delay_ms=0)
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=lift, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)


@pytest.mark.parametrize(("dialect", "posts"), [("generic", 1), ("engine", 2)], ids=["by-listing", "by-key"])
async def test_timed_out_create_returns_the_one_job_the_engine_made(engine, tmp_path, dialect, posts) -> None:
    settings = priced_settings(engine, tmp_path, request_timeout_s=0.5, dialect=dialect)
    async with served(settings) as (service, server), Client(server) as client:
        with delay_lifted_once_accepted(engine):
            job = structured(await client.call_tool("create_video", {"prompt": PROMPT}))
        record = service.ledger.get(job["id"])
    # held-back answers are logged by the engine once they are sent
    await eventually(lambda: engine.stats.count("POST", "/v1/videos") >= posts, what="the held-back answers")
    assert engine.jobs_count() == 1
    assert engine.stats.count("POST", "/v1/videos") == posts  # by-key: the resend got the same job back
    assert record is not None and record.prompt_sent == job["prompt"]
    if dialect == "generic":  # no idempotency: the job was found by listing
        assert engine.stats.count("GET", "/v1/videos") >= 1


async def test_unanswerable_create_is_not_resent_and_the_error_says_how_to_find_it(engine, tmp_path) -> None:
    settings = priced_settings(engine, tmp_path, request_timeout_s=0.4, dialect="generic")
    engine.set_faults(response_delay_ms=1200)  # every answer, listings included, comes too late
    async with served(settings) as (service, server), Client(server) as client:
        result = await client.call_tool("create_video", {"prompt": PROMPT, "augment": False})
        pending = service.ledger.unresolved_pending(3600)
    await eventually(lambda: engine.stats.count("POST", "/v1/videos") >= 1, what="the held-back create")
    message = text(result)
    assert result.is_error and "not resent" in message and "list_videos(text=" in message
    assert PROMPT[:30] in message and "Traceback" not in message
    assert engine.jobs_count() == 1 and engine.stats.count("POST", "/v1/videos") == 1
    assert len(pending) == 1  # remembered as a create of unknown outcome


def _seed_failing_only_the_first_create(rate: float) -> int:
    """A fault_seed whose draws answer: GET /models ok, POST 500, GET list ok, POST ok."""
    import random

    for seed in range(10_000):
        rng = random.Random(seed)
        draws = [rng.random() for _ in range(4)]
        if draws[0] >= rate and draws[1] < rate and draws[2] >= rate and draws[3] >= rate:
            return seed
    raise AssertionError("no seed found")


async def test_server_error_on_create_is_reconciled_then_retried_in_a_batch(engine_factory, tmp_path) -> None:
    engine = engine_factory(error_rate_5xx=0.5, fault_seed=_seed_failing_only_the_first_create(0.5))
    settings = priced_settings(engine, tmp_path)
    async with served(settings) as (_, server), Client(server) as client:
        result = structured(
            await client.call_tool("create_batch", {"jobs": [{"prompt": PROMPT}], "concurrency": 1})
        )
    assert engine.stats.count("POST", "/v1/videos", status=500) == 1
    assert engine.stats.count("GET", "/v1/videos", status=200) == 1  # looked for a job before resending
    assert result["created"] == 1 and result["results"][0]["attempts"] == 2
    assert engine.jobs_count() == 1

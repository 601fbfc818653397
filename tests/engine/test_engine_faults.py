"""The fault knobs: each one off by default, each visible to a client exactly as a real outage would be."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx2
import openai
import pytest

from sora_mcp.engine import EngineServer
from tests.engine.engine_helpers import create_done, raw, sdk
from tests.schema_check import assert_valid

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
EngineFactory = Callable[..., EngineServer]


async def test_every_nth_request_is_rate_limited(engine_factory: EngineFactory) -> None:
    engine = engine_factory(rate_limit_every_n=3, retry_after_s=7)
    async with raw(engine) as http:
        statuses = [(await http.get("/v1/videos")).status_code for _ in range(6)]
        assert statuses == [200, 200, 429, 200, 200, 429]
        engine.set_faults(rate_limit_every_n=1)
        limited = await http.get("/v1/videos")
    assert limited.headers["retry-after"] == "7"
    assert_valid("ErrorResponse", limited.json())
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert engine.stats.count("GET", "/v1/videos", status=429) == 3
    async with sdk(engine) as client:
        with pytest.raises(openai.RateLimitError):
            await client.videos.create(prompt="x")
    assert engine.jobs_count() == 0


async def test_5xx_rate_is_seeded_and_creates_nothing(engine_factory: EngineFactory) -> None:
    engine = engine_factory(error_rate_5xx=1.0)
    async with sdk(engine) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.videos.create(prompt="x")
    assert_valid("ErrorResponse", caught.value.response.json())
    assert engine.jobs_count() == 0
    engine.set_faults(error_rate_5xx=0.5, fault_seed=42)
    async with raw(engine) as http:
        first = [(await http.get("/v1/videos")).status_code for _ in range(20)]
        engine.set_faults(fault_seed=42)
        second = [(await http.get("/v1/videos")).status_code for _ in range(20)]
    assert first == second and {200, 500} == set(first)


async def test_fail_rate_and_denylist_fail_jobs(engine_factory: EngineFactory) -> None:
    engine = engine_factory(fail_rate=1.0, denylist=["Dragon Fire"])
    async with sdk(engine) as client:
        failed = await create_done(client, prompt="a calm lake")
        assert failed.status == "failed" and failed.error is not None
        assert failed.error.code == "video_generation_failed"
        blocked = await create_done(client, prompt="A dragon fire over town")
        assert blocked.error is not None and blocked.error.code == "moderation_blocked"
        assert "Dragon Fire" in blocked.error.message
        assert_valid("VideoResource", blocked.model_dump())
        engine.set_faults(fail_rate=0.0, denylist=[])
        assert (await create_done(client, prompt="A dragon fire over town")).status == "completed"


async def test_latency_and_response_delay(engine_factory: EngineFactory) -> None:
    engine = engine_factory(latency_ms=300)
    async with raw(engine) as http:
        started = time.monotonic()
        await http.get("/v1/videos")
        assert time.monotonic() - started >= 0.3
        engine.set_faults(latency_ms=0, response_delay_ms=1500)
        with pytest.raises(httpx2.ReadTimeout):
            await http.post("/v1/videos", json={"prompt": "timed out"}, timeout=0.5)
    # The work was done before the delay: the job exists although the client gave up.
    assert engine.stats.jobs_created == 1


async def test_download_dropped_part_way(engine_factory: EngineFactory) -> None:
    engine = engine_factory()
    async with sdk(engine) as client:
        video = await create_done(client)
    engine.set_faults(drop_download_after_bytes=5000)
    async with raw(engine) as http:
        with pytest.raises(httpx2.TransportError):
            async with http.stream("GET", f"/v1/videos/{video.id}/content") as response:
                assert response.status_code == 200
                received = 0
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
        engine.set_faults(drop_download_after_bytes=None)
        whole = await http.get(f"/v1/videos/{video.id}/content")
    assert received <= 5000 < len(whole.content)


async def test_admin_routes_change_faults_and_report_stats(engine_factory: EngineFactory) -> None:
    engine = engine_factory(api_key="k1", faults_enabled=True)
    async with raw(engine, api_key="k1") as http:
        await http.get("/v1/videos")
        changed = await http.post("/_engine/faults", json={"rate_limit_every_n": 1, "retry_after_s": 3})
        assert changed.status_code == 200 and changed.json()["rate_limit_every_n"] == 1
        assert (await http.get("/v1/videos")).status_code == 429
        bad = await http.post("/_engine/faults", json={"warp_speed": 9})
        assert bad.status_code == 400 and "warp_speed" in bad.json()["error"]["message"]
        stats = (await http.get("/_engine/stats")).json()
    assert stats["requests"] == [["GET", "/v1/videos", 200], ["GET", "/v1/videos", 429]]
    assert engine.stats.count("GET", "/v1/videos") == 2
    with pytest.raises(ValueError, match="Unknown fault knob"):
        engine.set_faults(nonsense=1)


async def test_poll_after_header_follows_the_knob(engine: EngineServer) -> None:
    async with sdk(engine) as client:
        video = await client.videos.create(prompt="poll me")
        engine.set_faults(poll_after_ms=250)
        response = await client.videos.with_raw_response.retrieve(video.id)
    assert response.headers["openai-poll-after-ms"] == "250"

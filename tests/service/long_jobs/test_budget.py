"""Budget with approval through the MCP Client: asked via elicitation on both protocols
(legacy = 2025-11-25 mid-call request, auto = 2026-07-28 input_required rounds), approved once,
declined, or refused with the quote, the remaining budget and the fix when nobody can be asked."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.service.long_jobs.conftest import answering, priced_settings, served, structured, text

pytestmark = pytest.mark.anyio
MODES = ["legacy", "auto"]
OVER = {"prompt": "A lighthouse beam sweeping through fog", "seconds": "8"}  # sora-2 720p: $0.80


@pytest.mark.parametrize("mode", MODES)
async def test_over_budget_create_is_asked_and_approved_once(engine, tmp_path, mode) -> None:
    asked: list[str] = []
    settings = priced_settings(engine, tmp_path, budget_usd=0.5)
    async with (
        served(settings) as (_, server),
        Client(server, mode=mode, elicitation_callback=answering(True, asked)) as client,
    ):
        job = structured(await client.call_tool("create_video", OVER))
    assert len(asked) == 1 and "$0.80" in asked[0] and "$0.50" in asked[0], asked
    assert job["status"] in ("queued", "in_progress") and job["quote"]["usd"] == 0.8
    assert engine.jobs_count() == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("answer", [False, None], ids=["approve-false", "decline"])
async def test_declined_spend_sends_nothing(engine, tmp_path, mode, answer) -> None:
    asked: list[str] = []
    settings = priced_settings(engine, tmp_path, budget_usd=0.5)
    async with (
        served(settings) as (_, server),
        Client(server, mode=mode, elicitation_callback=answering(answer, asked)) as client,
    ):
        result = await client.call_tool("create_video", OVER)
    message = text(result)
    assert result.is_error and len(asked) == 1
    assert "declined" in message and "$0.80" in message and "$0.50" in message
    assert "SORA_MCP_BUDGET_USD" in message
    assert engine.stats.count("POST", "/v1/videos") == 0 and engine.jobs_count() == 0


@pytest.mark.parametrize("mode", MODES)
async def test_refused_with_quote_remaining_and_fix_when_client_cannot_be_asked(
    engine, tmp_path, mode
) -> None:
    settings = priced_settings(engine, tmp_path, budget_daily_usd=0.3)
    async with served(settings) as (_, server), Client(server, mode=mode) as client:
        result = await client.call_tool("create_video", OVER)
        within = structured(
            await client.call_tool(
                "create_video", {"prompt": "A small paper crane", "seconds": "4", "dry_run": True}
            )
        )
    message = text(result)
    assert result.is_error
    assert "$0.80" in message and "$0.30" in message and "cannot be asked" in message
    assert "SORA_MCP_BUDGET_DAILY_USD" in message and "Traceback" not in message
    assert engine.jobs_count() == 0
    assert within["status"] == "dry_run" and within["quote"]["usd"] == 0.4


@pytest.mark.parametrize("mode", MODES)
async def test_within_budget_is_not_asked_and_dry_run_never_asks(engine, tmp_path, mode) -> None:
    asked: list[str] = []
    async with served(priced_settings(engine, tmp_path, budget_usd=0.5)) as (service, server):
        async with Client(server, mode=mode, elicitation_callback=answering(False, asked)) as client:
            job = structured(await client.call_tool("create_video", {"prompt": "A red kite", "seconds": "4"}))
            dry = structured(await client.call_tool("create_video", {**OVER, "dry_run": True}))
        spend = service.spend_summary()
    assert asked == [] and job["quote"]["usd"] == 0.4 and dry["status"] == "dry_run"
    assert spend["total_usd"] == 0.4 and spend["budget_remaining_usd"] == 0.1


@pytest.mark.parametrize("mode", MODES)
async def test_batch_over_budget_is_asked_once_for_the_whole_batch(engine, tmp_path, mode) -> None:
    asked: list[str] = []
    jobs = [{"prompt": f"Clip {n}: waves on a pier"} for n in range(3)]  # 3 x 4 s x $0.10
    settings = priced_settings(engine, tmp_path, budget_usd=0.5)
    async with (
        served(settings) as (_, server),
        Client(server, mode=mode, elicitation_callback=answering(True, asked)) as client,
    ):
        result = structured(await client.call_tool("create_batch", {"jobs": jobs}))
    assert len(asked) == 1 and "$1.20" in asked[0] and "batch" in asked[0].lower(), asked
    assert result["created"] == 3 and result["total_quote_usd"] == 1.2
    assert engine.jobs_count() == 3


@pytest.mark.parametrize("mode", MODES)
async def test_remix_over_budget_declined(engine, tmp_path, mode) -> None:
    asked: list[str] = []
    settings = priced_settings(engine, tmp_path, budget_usd=0.5)
    async with (
        served(settings) as (_, server),
        Client(server, mode=mode, elicitation_callback=answering(False, asked)) as client,
    ):
        source = structured(await client.call_tool("create_video", {"prompt": "A teapot", "seconds": "4"}))
        result = await client.call_tool("remix_video", {"video_id": source["id"], "prompt": "Same, at night"})
    assert result.is_error and "declined" in text(result) and "$0.10" in text(result)
    assert len(asked) == 1 and "$0.40" in asked[0]
    assert engine.stats.count("POST", f"/v1/videos/{source['id']}/remix") == 0


async def test_approval_parameter_is_hidden_from_every_paid_tool(engine, tmp_path) -> None:
    settings = priced_settings(engine, tmp_path)
    async with served(settings) as (_, server), Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("create_video", "remix_video", "extend_video", "edit_video", "create_batch"):
        schema = tools[name].input_schema
        assert "approval" not in schema.get("properties", {}) and "approval" not in schema.get("required", [])
        assert "prompt" in schema["properties"] or "jobs" in schema["properties"]

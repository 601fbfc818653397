"""create_batch through the MCP Client against the engine: a 20-line JSONL file with injected
429s and 5xx gives one job per valid line and no extra engine job; dry runs call nothing;
fail_fast stops launching; the JSONL parser's rules."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from sora_mcp.service.batch_input import BatchSpec, parse_jsonl
from tests.service.long_jobs.conftest import priced_settings, served, structured, text

pytestmark = pytest.mark.anyio


def twenty_lines() -> tuple[str, int, int]:
    """The file, the number of valid jobs, and the bad line's number."""
    lines = ["# storyboard for the harbour spot", ""]
    lines.append("A plain-text prompt: gulls circling a fishing boat")
    for n in range(16):
        lines.append(
            json.dumps({"prompt": f"Shot {n}: waves breaking on a pier, take {n}", "camera": "locked off"})
        )
    lines.append(json.dumps({"prompt": "A bad line", "colour": "red"}))  # line 20: unknown key
    assert len(lines) == 20
    return "\n".join(lines) + "\n", 17, 20


async def test_twenty_line_batch_with_429s_and_5xx_makes_one_job_per_valid_line(
    engine_factory, tmp_path
) -> None:
    engine = engine_factory(rate_limit_every_n=5, retry_after_s=0, error_rate_5xx=0.1, fault_seed=11)
    body, valid, bad = twenty_lines()
    path = tmp_path / "inputs" / "batch.jsonl"
    settings = priced_settings(engine, tmp_path)
    path.write_text(body)
    progress: list[str] = []

    async def on_progress(p: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with served(settings) as (service, server), Client(server) as client:
        result = structured(
            await client.call_tool(
                "create_batch",
                {"jsonl_path": str(path), "concurrency": 3, "max_attempts": 8, "seconds": 4},
                progress_callback=on_progress,
            )
        )
        recorded, _ = service.ledger.list_jobs(limit=100)
    ok = [r for r in result["results"] if r["ok"]]
    ids = [r["job"]["id"] for r in ok]
    assert result["created"] == valid == len(set(ids)) and result["failed"] == 1
    assert engine.jobs_count() == valid  # no duplicate, no lost job
    failed = next(r for r in result["results"] if not r["ok"])
    assert failed["line"] == bad and "line 20" in failed["error"] and "colour" in failed["error"]
    assert [r["line"] for r in result["results"]] == list(range(3, 21))
    assert (
        ok[0]["job"]["prompt"].endswith("gulls circling a fishing boat") or "gulls" in ok[0]["job"]["prompt"]
    )
    assert all(r["job"]["quote"]["usd"] == 0.4 for r in ok) and result["total_quote_usd"] == pytest.approx(
        6.8
    )
    assert engine.stats.count(status=429) + engine.stats.count(status=500) > 0  # faults were injected
    assert "get_status(video_ids=" in result["next_step"]
    assert len(progress) == valid and any(ids[0] in m for m in progress)
    assert sorted(r.id for r in recorded) == sorted(ids)


async def test_dry_runs_make_no_backend_call(engine, tmp_path) -> None:
    settings = priced_settings(engine, tmp_path)
    async with served(settings) as (_, server), Client(server) as client:
        source = structured(await client.call_tool("create_video", {"prompt": "A teapot on a table"}))
        engine.stats.reset()
        batch = structured(
            await client.call_tool(
                "create_batch",
                {
                    "jobs": [
                        {"prompt": "A"},
                        {"subject": "a red fox", "action": "trots across snow", "seconds": 8},
                    ],
                    "dry_run": True,
                },
            )
        )
        create = structured(await client.call_tool("create_video", {"prompt": "B", "dry_run": True}))
        remix = structured(
            await client.call_tool(
                "remix_video", {"video_id": source["id"], "prompt": "At night", "dry_run": True}
            )
        )
    assert len(engine.stats) == 0 and engine.jobs_count() == 1
    assert batch["dry_run"] and batch["created"] == 0 and batch["total_quote_usd"] == pytest.approx(1.2)
    fox = batch["results"][1]["job"]
    assert fox["status"] == "dry_run" and "a red fox. trots across snow" in fox["prompt"]
    assert create["status"] == remix["status"] == "dry_run" and remix["quote"]["usd"] == 0.4


async def test_fail_fast_stops_launching_after_the_first_failure(engine, tmp_path) -> None:
    settings = priced_settings(engine, tmp_path)
    jobs = [
        {"prompt": "First"},
        {"prompt": "Second", "input_reference": "/etc/hostname"},
        {"prompt": "Third"},
        {"prompt": "Fourth"},
    ]
    async with served(settings) as (_, server), Client(server) as client:
        result = structured(
            await client.call_tool("create_batch", {"jobs": jobs, "concurrency": 1, "fail_fast": True})
        )
        invalid = structured(
            await client.call_tool(
                "create_batch",
                {"jobs": [{"prompt": "Fine"}, {"prompt": "Bad", "seconds": 5}], "fail_fast": True},
            )
        )
    lines = {r["line"]: r for r in result["results"]}
    assert lines[1]["ok"] and not lines[2]["ok"] and "outside" in lines[2]["error"]
    assert "skipped" in lines[3]["error"] and "skipped" in lines[4]["error"]
    assert result["created"] == 1 and engine.jobs_count() == 1
    assert invalid["created"] == 0 and "line 2" in invalid["results"][1]["error"]
    assert "skipped" in invalid["results"][0]["error"] and engine.jobs_count() == 1


async def test_batch_file_outside_the_allowed_folders_is_refused(engine, tmp_path) -> None:
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("A prompt\n")
    async with served(priced_settings(engine, tmp_path)) as (_, server), Client(server) as client:
        result = await client.call_tool("create_batch", {"jsonl_path": str(outside)})
        both = await client.call_tool("create_batch", {"jsonl_path": str(outside), "jobs": [{"prompt": "x"}]})
    assert result.is_error and "outside" in text(result) and "SORA_MCP_ALLOWED_ROOTS" in text(result)
    assert both.is_error and "exactly one" in text(both)
    assert len(engine.stats) == 0


async def test_batch_file_must_be_jsonl_so_other_text_files_are_never_sent(engine, tmp_path) -> None:
    secrets = tmp_path / "inputs" / ".env"
    secrets.parent.mkdir(exist_ok=True)
    secrets.write_text("API_TOKEN=abc123\n")
    async with served(priced_settings(engine, tmp_path)) as (_, server), Client(server) as client:
        result = await client.call_tool("create_batch", {"jsonl_path": str(secrets)})
    assert result.is_error and ".jsonl" in text(result) and "abc123" not in text(result)
    assert len(engine.stats) == 0


def test_parse_jsonl_rules() -> None:
    parsed = parse_jsonl(
        '# c\n\n  plain words here\n"a json string"\n{"prompt": "p", "seconds": 8}\n'
        '{"subject": "a fox"}\n{"prompt": "x", "colour": 1}\n{broken\n[1, 2]\n{"model": "sora-2"}\n'
    )
    by_line = dict(parsed)
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert isinstance(by_line[3], BatchSpec) and by_line[3].prompt == "plain words here"
    assert by_line[4].prompt == "a json string" and by_line[5].seconds == 8  # type: ignore[union-attr]
    assert isinstance(by_line[6], BatchSpec) and by_line[6].subject == "a fox"
    assert isinstance(by_line[7], str) and "line 7" in by_line[7] and "unknown key 'colour'" in by_line[7]
    assert isinstance(by_line[8], str) and "not valid JSON" in by_line[8]
    assert isinstance(by_line[9], str) and "expected a JSON object" in by_line[9]
    assert isinstance(by_line[10], str) and "no prompt" in by_line[10]

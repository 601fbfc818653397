"""The agent contract (issue #21), one test per friction, all through the official MCP Client.

Strict arguments that teach, honest dry runs, a small tools/list, lean results, waits that fit
real clients, files where the user wants them, cost at hand and the prompt fixes.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from sora_mcp.config import Settings
from sora_mcp.server import build_server
from sora_mcp.service import VideoService
from tests.results import structured, text
from tests.server.conftest import SECRET_KEY
from tests.server.journey import assert_labelled_small_images, images, text_bytes, wait_done

pytestmark = pytest.mark.anyio

PYDANTIC_WORDS = (
    "validation error",
    "pydantic",
    "For further information",
    "[type=",
    "input_value",
    "Field required",
)


def assert_sora_error(result: Any, *words: str) -> str:
    """A refusal in sora-mcp's own words: message + fix, naming `words`, with no pydantic text or URL."""
    said = text(result)
    assert result.is_error, said
    for w in PYDANTIC_WORDS:
        assert w.lower() not in said.lower(), (w, said)
    for w in words:
        assert w.lower() in said.lower(), (w, said)
    assert SECRET_KEY not in said and "Traceback" not in said
    return said


async def _tools(client: Client) -> dict[str, dict[str, Any]]:
    tools = (await client.list_tools()).tools
    return {t.name: t.model_dump(mode="json", exclude_none=True, by_alias=True) for t in tools}


# ---- 1. strict inputs that teach --------------------------------------------------------------

UNKNOWN = [
    ("create_video", {"prompt": "a kite", "duration": 12}, ["'duration'", "seconds"]),
    ("create_video", {"prompt": "a kite", "resolution": "720x1280"}, ["'resolution'", "size", "720x1280"]),
    ("create_video", {"prompt": "a kite", "aspect_ratio": "9:16"}, ["'aspect_ratio'", 'size="720x1280"']),
    ("create_video", {"prompt": "a kite", "colour": "red"}, ["'colour'", "shot.palette"]),
    ("create_video", {"prompt": "a kite", "negative_prompt": "blur"}, ["'negative_prompt'", "shot.avoid"]),
    ("create_video", {"prompt": "a kite", "shot": {"color": "red"}}, ["'shot.color'", "shot.palette"]),
    ("create_video", {"prompt": "a kite", "camera": "dolly"}, ["'camera'", "shot.camera"]),
    ("remix_video", {"video_id": "video_x", "prompt": "same", "seconds": 12}, ["'seconds'", "extend_video"]),
    ("get_status", {"id": "video_x"}, ["'id'", "video_id"]),
    ("download_asset", {"video_id": "video_x", "path": "out.mp4"}, ["'path'", "destination"]),
]


@pytest.mark.parametrize(("tool", "args", "words"), UNKNOWN)
async def test_unknown_arguments_are_refused_naming_the_real_one(
    server, keyed_engine, tool, args, words
) -> None:
    keyed_engine.stats.reset()
    async with Client(server) as client:
        result = await client.call_tool(tool, args)
    assert_sora_error(result, *words)
    assert keyed_engine.stats.count("POST", "/v1/videos") == 0


VIOLATIONS = [
    ("create_video", {}, ["needs prompt", "Pass prompt"]),
    ("create_video", {"prompt": "a kite", "seconds": [4]}, ["seconds must be"]),
    ("create_video", {"prompt": "a kite", "dry_run": "maybe"}, ["dry_run must be a boolean"]),
    ("get_status", {}, ["exactly one of video_id or video_ids"]),
    (
        "get_status",
        {"video_id": "video_a", "video_ids": ["video_b"]},
        ["exactly one of video_id or video_ids"],
    ),
    ("get_status", {"video_id": "video_a", "wait_seconds": 1000}, ["wait_seconds", "45", "same wait"]),
    ("get_status", {"video_ids": [f"video_{i}" for i in range(51)]}, ["video_ids", "50"]),
    ("list_videos", {"status": "done"}, ["status", "completed", "in_progress"]),
    ("list_videos", {"limit": 0}, ["limit", "at least 1"]),
    ("download_asset", {"video_id": "video_a", "variant": "gif"}, ["variant", "thumbnail"]),
]


@pytest.mark.parametrize(("tool", "args", "words"), VIOLATIONS)
async def test_schema_violations_read_like_sora_errors(server, tool, args, words) -> None:
    async with Client(server, mode="legacy") as client:
        result = await client.call_tool(tool, args)
    assert "://" not in assert_sora_error(result, *words)


async def test_limits_live_in_the_schema(server) -> None:
    async with Client(server) as client:
        tools = await _tools(client)
    for tool in tools.values():
        assert tool["inputSchema"].get("additionalProperties") is False, tool["name"]
        assert not re.search(r"\n[ \t]+", tool["description"]), f"indented description: {tool['name']}"
    status = tools["get_status"]["inputSchema"]
    assert status["properties"]["wait_seconds"]["maximum"] == 45
    assert {"required": ["video_id"]} in status["oneOf"] and {"required": ["video_ids"]} in status["oneOf"]
    assert status["properties"]["video_ids"]["maxItems"] == 50
    assert "completed" in tools["list_videos"]["inputSchema"]["properties"]["status"]["enum"]
    assert "camera" in tools["create_video"]["inputSchema"]["properties"]["shot"]["propertyNames"]["enum"]


async def test_a_longer_wait_limit_is_a_setting(keyed_engine, data_dir, tmp_path) -> None:
    settings = Settings(
        base_url=keyed_engine.base_url,
        api_key=SECRET_KEY,
        data_dir=data_dir,
        max_wait_s=120,
        tools=["create_video", "get_status", "get_spend"],
    )
    async with VideoService(settings) as service, Client(build_server(service)) as client:
        tools = await _tools(client)
        assert set(tools) == {"create_video", "get_status", "get_spend"}  # SORA_MCP_TOOLS: a smaller set
        assert tools["get_status"]["inputSchema"]["properties"]["wait_seconds"]["maximum"] == 120
        assert "wait_seconds=120" in tools["create_video"]["description"]
        result = await client.call_tool("get_status", {"video_id": "video_none", "wait_seconds": 100})
        assert "wait_seconds" not in text(result)  # past the schema: refused only for the unknown id


# ---- 2. dry_run = everything but the send -----------------------------------------------------

BAD_REFERENCES = [
    "/etc/passwd",
    "../../x.png",
    "file:///etc/passwd",
    "https://169.254.169.254/latest/x.png",
    "https://127.0.0.1/x.png",
]


@pytest.mark.parametrize("ref", BAD_REFERENCES)
async def test_dry_run_refuses_what_the_real_call_refuses(server, keyed_engine, ref) -> None:
    keyed_engine.stats.reset()
    async with Client(server) as client:
        dry = await client.call_tool(
            "create_video", {"prompt": "a kite", "input_reference": ref, "dry_run": True}
        )
        real = await client.call_tool("create_video", {"prompt": "a kite", "input_reference": ref})
    assert_sora_error(dry, "input_reference")
    assert_sora_error(real, "input_reference")
    assert keyed_engine.stats.count("POST", "/v1/videos") == 0


async def test_dry_run_checks_the_backends_model_list(server, keyed_engine) -> None:
    keyed_engine.stats.reset()
    async with Client(server) as client:
        dry = await client.call_tool(
            "create_video", {"prompt": "a kite", "model": "sora-3-ultra", "dry_run": True}
        )
        real = await client.call_tool("create_video", {"prompt": "a kite", "model": "sora-3-ultra"})
        ok = await client.call_tool("create_video", {"prompt": "a kite", "dry_run": True})
    assert_sora_error(dry, "sora-3-ultra", "sora-2")
    assert_sora_error(real, "sora-3-ultra", "sora-2")
    said = text(ok)
    assert not ok.is_error and "nothing was created" in said.lower()
    assert "catalog" in said and "budget" in said.lower() and "guardrails" in said
    assert keyed_engine.stats.count("POST", "/v1/videos") == 0


async def test_dry_run_names_the_budget_and_what_it_could_not_check(keyed_engine, data_dir, tmp_path) -> None:
    settings = Settings(base_url=keyed_engine.base_url, api_key=SECRET_KEY, data_dir=data_dir, budget_usd=0.5)
    async with VideoService(settings) as service, Client(build_server(service)) as client:
        over = await client.call_tool("create_video", {"prompt": "a kite", "seconds": 12, "dry_run": True})
        url = await client.call_tool(
            "create_video",
            {"prompt": "a kite", "dry_run": True, "input_reference": "https://example.com/kite.png"},
        )
    assert "approve" in text(over) and "$1.20" in text(over)
    assert "Not checked" in text(url) and "fetch" in text(url)
    assert structured(url)["unchecked"]


# ---- 3./4. a lean tools/list and lean results -----------------------------------------------


async def test_tools_list_fits_the_budget(server) -> None:
    async with Client(server) as client:
        tools = list((await _tools(client)).values())
    assert len(json.dumps(tools, separators=(",", ":"))) <= 12_000


async def test_results_are_short_summaries_not_json(server, data_dir: Path) -> None:
    async with Client(server) as client:
        created = await client.call_tool("create_video", {"prompt": "A lighthouse at dusk"})
        vid = structured(created)["id"]
        done = await wait_done(client, [vid])
        again = await client.call_tool("get_status", {"video_id": vid})
        asked = await client.call_tool("get_status", {"video_id": vid, "thumbnail": True})
    for result in (created, done, again):
        first = result.content[0].text
        assert not first.lstrip().startswith("{") and '"id":' not in first, first
        assert vid in first
    assert text_bytes(created) <= 1200 and text_bytes(done) <= 2000
    assert len(images(done)) == 1 and images(again) == [] and len(images(asked)) == 1
    assert_labelled_small_images(done)
    job = structured(done)["jobs"][0]
    video = next(a["path"] for a in job["assets"] if a["variant"] == "video")
    assert video in done.content[0].text
    # The paths are given: the next step must not send the agent to download_asset for them.
    assert "for the file's path" not in job["next_step"] and "download_asset(video_id=" not in text(done)


async def test_several_jobs_label_their_images_and_say_when_files_are_still_coming(
    engine_factory, data_dir, tmp_path
) -> None:
    slow_files = engine_factory(api_key=SECRET_KEY, latency_ms=150)  # archiving takes a few round trips
    settings = Settings(base_url=slow_files.base_url, api_key=SECRET_KEY, data_dir=data_dir)
    async with VideoService(settings) as service, Client(build_server(service)) as client:
        ids = [
            structured(await client.call_tool("create_video", {"prompt": f"A kite, take {i}"}))["id"]
            for i in range(3)
        ]
        done = await wait_done(client, ids)
    status = structured(done)
    said = done.content[0].text
    assert_labelled_small_images(done)
    assert len(images(done)) <= 3
    for job in status["jobs"]:
        assert job["status"] == "completed" and job["id"] in said
        if not job["assets"]:  # never silently without files
            assert "still being archived" in said or "not archived yet" in said
    assert text_bytes(done) <= 3 * 2000


async def test_list_videos_is_one_short_line_per_job(server) -> None:
    async with Client(server) as client:
        for i in range(5):
            await client.call_tool(
                "create_video", {"prompt": f"A paper boat number {i} " + "with rain " * 40}
            )
        listed = await client.call_tool("list_videos", {"limit": 5})
    page = structured(listed)
    assert len(page["data"]) == 5
    assert text_bytes(listed) <= 350 * 5
    assert all(j["id"] in listed.content[0].text for j in page["data"])
    assert all(j["prompt"] for j in page["data"]), "the full record stays in structuredContent"


# ---- 5. waits that fit clients ----------------------------------------------------------------


async def test_suggested_waits_fit_clients(server) -> None:
    async with Client(server) as client:
        tools = await _tools(client)
        instructions = client.instructions or ""
        prompts = [
            await client.get_prompt("cinematic_shot", {"subject": "a kite"}),
            await client.get_prompt("remix_invariants", {"video_id": "video_1", "change": "night"}),
        ]
    texts = [t["description"] for t in tools.values()] + [p.messages[0].content.text for p in prompts]
    texts.append(instructions)
    waits = [int(w) for t in texts for w in re.findall(r"wait_seconds[=` ]+(\d+)", t)]
    assert waits and max(waits) <= 45, waits
    assert any("again with the same wait until all_done" in t for t in texts)


async def test_progress_arrives_at_least_every_ten_seconds(engine_factory, data_dir) -> None:
    # A backend asking to be polled only every 60 s: without heartbeats a wait would be silent.
    slow = engine_factory(api_key=SECRET_KEY, render_slowdown=40.0, poll_after_ms=60_000)
    settings = Settings(base_url=slow.base_url, api_key=SECRET_KEY, data_dir=data_dir, watch=False)
    stamps: list[float] = []

    async def on_progress(*_: object) -> None:
        stamps.append(anyio.current_time())

    async with VideoService(settings) as service, Client(build_server(service)) as client:
        vid = structured(await client.call_tool("create_video", {"prompt": "A very long take"}))["id"]
        started = anyio.current_time()
        result = await client.call_tool(
            "get_status", {"video_id": vid, "wait_seconds": 21}, progress_callback=on_progress
        )
        ended = anyio.current_time()
    assert not result.is_error
    marks = [started, *stamps, ended]
    gaps = [b - a for a, b in itertools.pairwise(marks)]
    assert len(stamps) >= 3 and max(gaps) <= 10.0, gaps


# ---- 6. files where the user wants them -------------------------------------------------------


async def test_download_to_a_destination_inside_the_allowed_folders(server, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    async with Client(server) as client:
        vid = structured(await client.call_tool("create_video", {"prompt": "A red kite"}))["id"]
        await wait_done(client, [vid])
        saved = await client.call_tool(
            "download_asset", {"video_id": vid, "destination": str(inputs / "clips") + "/"}
        )
        twice = await client.call_tool(
            "download_asset", {"video_id": vid, "destination": str(inputs / "clips") + "/"}
        )
        forced = await client.call_tool(
            "download_asset", {"video_id": vid, "destination": str(inputs / "clips") + "/", "overwrite": True}
        )
        outside = await client.call_tool("download_asset", {"video_id": vid, "destination": "/etc/kite.mp4"})
        ref = await client.call_tool("create_video", {"prompt": "A kite", "input_reference": "/etc/hosts"})
    copy = inputs / "clips" / f"{vid}.mp4"
    assert structured(saved)["copied_to"] == str(copy.resolve()) and copy.stat().st_size > 0
    assert str(copy.resolve()) in text(saved)
    assert_sora_error(twice, "already exists", "overwrite")
    assert not forced.is_error
    assert_sora_error(outside, str(inputs.resolve()))  # names the allowed folders
    assert_sora_error(ref, str(inputs.resolve()))
    assert not Path("/etc/kite.mp4").exists()


# ---- 7. cost at hand --------------------------------------------------------------------------


async def test_spend_is_a_tool_named_in_the_instructions(server) -> None:
    async with Client(server) as client:
        await client.call_tool("create_video", {"prompt": "A red kite"})
        spend = await client.call_tool("get_spend", {})
        instructions = client.instructions or ""
    assert "get_spend" in instructions
    said = text(spend)
    assert "$0.40" in said and "today" in said  # sora-2 1280x720 4 s at $0.10/s on a configured backend
    assert structured(spend)["total_usd"] == pytest.approx(0.4)


async def test_extend_quote_is_the_same_in_dry_run_and_real_call(server) -> None:
    async with Client(server) as client:
        vid = structured(await client.call_tool("create_video", {"prompt": "A red kite"}))["id"]
        await wait_done(client, [vid])
        args = {"video_id": vid, "prompt": "The kite climbs higher", "seconds": 8}
        dry = structured(await client.call_tool("extend_video", {**args, "dry_run": True}))
        real = structured(await client.call_tool("extend_video", args))
        later = structured(await client.call_tool("get_status", {"video_id": real["id"]}))["jobs"][0]
    assert dry["quote"] == real["quote"] == later["quote"], (dry["quote"], real["quote"], later["quote"])
    assert dry["quote"]["usd"] == pytest.approx(0.8)  # the 8 s new segment only
    assert dry["seconds"] == real["seconds"] == "12"


# ---- 8. prompt fixes --------------------------------------------------------------------------

CHANGES = [
    ("make the colour palette pastel", "colour palette"),
    ("make it night", "lighting"),
    ("slow the action down", "timing"),
    ("turn it into an anime style", "style"),
]


@pytest.mark.parametrize(("change", "aspect"), CHANGES)
async def test_remix_invariants_never_keeps_what_it_changes(server, change, aspect) -> None:
    async with Client(server) as client:
        got = await client.get_prompt("remix_invariants", {"video_id": "video_1", "change": change})
    said = got.messages[0].content.text
    keep = next(line for line in said.splitlines() if line.startswith("Constraints:"))
    assert aspect not in keep and "framing" in keep, keep
    assert change in said


async def test_remix_and_edit_are_told_apart_in_one_line(server) -> None:
    async with Client(server) as client:
        tools = await _tools(client)
    remix = tools["remix_video"]["description"].splitlines()[0]
    edit = tools["edit_video"]["description"].splitlines()[0]
    assert remix.startswith("Remix:") and "new take" in remix and "full prompt" in remix
    assert edit.startswith("Edit:") and "instruction" in edit and "keep everything else" in edit

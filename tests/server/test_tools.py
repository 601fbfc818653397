"""Tool schemas (snapshot), refusals, cancellation, secrets, resources, prompts and server.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.server.conftest import SECRET_KEY
from tests.server.journey import wait_done

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "spec"
SNAPSHOT = Path(__file__).with_name("snapshots") / "tools.json"


async def test_tools_list_snapshot(server) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    current = [t.model_dump(mode="json", exclude_none=True, by_alias=True) for t in tools]
    if os.environ.get("SORA_MCP_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), (
        "no tools/list snapshot: review tools/list, then rerun with SORA_MCP_UPDATE_SNAPSHOTS=1"
    )
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, "tools/list changed: review, then rerun with SORA_MCP_UPDATE_SNAPSHOTS=1"
    names = {t["name"] for t in current}
    assert {
        "create_video",
        "remix_video",
        "get_status",
        "list_videos",
        "download_asset",
        "delete_video",
    } <= names
    by_name = {t["name"]: t for t in current}
    assert by_name["get_status"]["annotations"]["readOnlyHint"] is True
    assert by_name["list_videos"]["annotations"]["readOnlyHint"] is True
    assert by_name["delete_video"]["annotations"]["destructiveHint"] is True
    # The result travels as a short text plus structuredContent; output schemas cost bytes no client reads.
    assert not any("outputSchema" in t for t in current)
    assert "camera" in by_name["create_video"]["inputSchema"]["properties"]["shot"]["propertyNames"]["enum"]
    assert "get_spend" in names


REFUSALS = [
    ({"prompt": "a cat", "model": "sora-2", "size": "1792x1024"}, ["1792x1024", "1280x720", "720x1280"]),
    ({"prompt": "a cat", "seconds": "5"}, ["5", "4", "8", "12"]),
    ({"prompt": "a cat", "seconds": 7}, ["7", "4", "8", "12"]),
    ({"prompt": ""}, ["empty"]),
    ({"prompt": "x" * 32001}, ["32000"]),
    ({"prompt": "Mickey Mouse dancing on a table"}, ["copyright"]),
    ({"prompt": "a cat", "input_reference": "/etc/passwd"}, ["/etc/passwd"]),
    ({"prompt": "a cat", "input_reference": "../../../../etc/hosts"}, ["../../../../etc/hosts"]),
    ({"prompt": "a cat", "input_reference": "http://example.com/a.png"}, ["https"]),
]


@pytest.mark.parametrize(("args", "words"), REFUSALS)
async def test_refusals_name_problem_and_fix_without_backend_call(server, keyed_engine, args, words) -> None:
    keyed_engine.stats.reset()
    async with Client(server) as client:
        result = await client.call_tool("create_video", args)
    text = result.content[0].text
    assert result.is_error, text
    for w in words:
        assert w.lower() in text.lower(), (w, text)
    assert "Traceback" not in text and SECRET_KEY not in text
    assert keyed_engine.stats.count("POST", "/v1/videos") == 0


async def test_fake_png_refused_before_upload(server, keyed_engine, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir(exist_ok=True)
    (inputs / "notes.png").write_text("this is not an image")
    keyed_engine.stats.reset()
    async with Client(server) as client:
        result = await client.call_tool(
            "create_video", {"prompt": "a cat", "input_reference": str(inputs / "notes.png")}
        )
    assert result.is_error
    assert "png" in result.content[0].text.lower() or "image" in result.content[0].text.lower()
    assert keyed_engine.stats.count("POST", "/v1/videos") == 0


async def test_download_before_completion_refused(server, keyed_engine) -> None:
    keyed_engine.set_faults(render_slowdown=20.0)  # ~80 s per 4 s clip: still rendering when asked
    async with Client(server) as client:
        created = await client.call_tool(
            "create_video", {"prompt": "A slow sunrise over hills", "size": "720x1280"}
        )
        vid = created.structured_content["id"]
        result = await client.call_tool("download_asset", {"video_id": vid})
        text = result.content[0].text
        assert result.is_error and "get_status" in text and vid in text, text


async def test_unknown_id_is_clear(server) -> None:
    async with Client(server) as client:
        result = await client.call_tool("get_status", {"video_id": "video_does_not_exist"})
    assert result.is_error
    assert "video_does_not_exist" in result.content[0].text and "list_videos" in result.content[0].text


async def test_a_huge_text_search_is_refused_plainly(server) -> None:
    """Found by the long hardening run: SQLite refused the LIKE pattern ("too complex") and the agent
    saw a bare "Error executing tool list_videos"."""
    async with Client(server) as client:
        for args in ({"text": "🎬" * 20_000}, {"text": "🎬" * 1001}):
            result = await client.call_tool("list_videos", args)
            text = result.content[0].text
            assert result.is_error and "1000" in text and "text" in text, text
        ok = await client.call_tool("list_videos", {"text": "🎬" * 1000})
    assert not ok.is_error, ok.content[0].text


async def test_one_bad_id_among_several_in_a_wait_is_refused_plainly(server) -> None:
    """Found by the long hardening run: the ids are polled together, and one job's refusal came out
    of the task group as a bare "Error executing tool get_status"."""
    async with Client(server) as client:
        created = await client.call_tool(
            "create_video", {"prompt": "A quiet harbour at dawn", "dry_run": False}
        )
        vid = created.structured_content["id"]
        for bad, words in (
            ("video_does_not_exist", ["video_does_not_exist", "list_videos"]),
            ("video_" + "x" * 600, ["not a valid id"]),
        ):
            result = await client.call_tool("get_status", {"video_ids": [vid, bad], "wait_seconds": 1})
            text = result.content[0].text
            assert result.is_error and all(w in text for w in words), text
            assert "Traceback" not in text and "ExceptionGroup" not in text


async def test_dry_run_makes_no_backend_call(server, keyed_engine) -> None:
    keyed_engine.stats.reset()
    async with Client(server) as client:
        result = await client.call_tool(
            "create_video",
            {
                "prompt": "A red kite",
                "dry_run": True,
                "model": "sora-2-pro",
                "size": "1792x1024",
                "seconds": 8,
            },
        )
    job = result.structured_content
    assert not result.is_error and job["status"] == "dry_run"
    assert job["quote"]["usd"] == 4.0  # a configured backend: sora-2-pro at 1792x1024 is $0.50/s
    assert keyed_engine.stats.count("POST", "/v1/videos") == 0


async def test_cancelling_a_wait_returns_promptly_and_the_job_goes_on(
    engine_factory, data_dir, tmp_path
) -> None:
    from sora_mcp.config import Settings
    from sora_mcp.server import build_server
    from sora_mcp.service import VideoService

    slow = engine_factory(api_key=SECRET_KEY, render_slowdown=8.0, poll_after_ms=200)
    settings = Settings(base_url=slow.base_url, api_key=SECRET_KEY, data_dir=data_dir, watch=False)
    async with VideoService(settings) as service, Client(build_server(service)) as client:
        job = await client.call_tool("create_video", {"prompt": "A long tracking shot", "size": "720x1280"})
        vid = job.structured_content["id"]
        got_progress = anyio.Event()

        async def on_progress(*_: object) -> None:
            got_progress.set()

        cancelled_at = None
        async with anyio.create_task_group() as tg:

            async def waiter() -> None:
                await client.call_tool(
                    "get_status", {"video_id": vid, "wait_seconds": 45}, progress_callback=on_progress
                )

            tg.start_soon(waiter)
            with anyio.fail_after(30):
                await got_progress.wait()
            cancelled_at = anyio.current_time()
            tg.cancel_scope.cancel()
        assert anyio.current_time() - cancelled_at < 2.0
        status = (await client.call_tool("get_status", {"video_id": vid})).structured_content["jobs"][0]
        assert status["status"] in ("queued", "in_progress")
        final = await wait_done(client, [vid])
        assert final.structured_content["jobs"][0]["status"] == "completed"


async def test_resources_and_prompts(server) -> None:
    async with Client(server) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"sora://prompt-template", "sora://guardrails", "sora://models", "sora://library"} <= uris
        template = (await client.read_resource("sora://prompt-template")).contents[0].text
        assert "Primary request" in template
        models = (await client.read_resource("sora://models")).contents[0].text
        assert "sora-2-pro" in models and "1792x1024" in models
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert {"cinematic_shot", "social_ad", "remix_invariants"} <= prompts
        got = await client.get_prompt("remix_invariants", {"video_id": "video_123", "change": "make it snow"})
        text = got.messages[0].content.text
        assert "video_123" in text and "make it snow" in text
        for uri in uris:
            body = (await client.read_resource(uri)).contents[0]
            assert SECRET_KEY not in getattr(body, "text", "")


async def test_video_resource_template(server) -> None:
    async with Client(server) as client:
        vid = (
            await client.call_tool("create_video", {"prompt": "A lighthouse", "size": "720x1280"})
        ).structured_content["id"]
        body = json.loads((await client.read_resource(f"sora://videos/{vid}")).contents[0].text)
    assert body["id"] == vid and body["model"] == "sora-2"


def test_server_json_validates() -> None:
    import jsonschema

    schema_path = SPEC / "mcp-server.schema.2025-12-11.json"
    schema = json.loads(schema_path.read_text())
    doc = json.loads((ROOT / "server.json").read_text())
    jsonschema.Draft7Validator(schema).validate(doc)
    assert "mcp-name: " + doc["name"] in (ROOT / "README.md").read_text()

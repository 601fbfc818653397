"""The player, server side, through the official MCP client (in-process, auto and legacy modes):
the capability, the ui:// resource, the links, the app-only tools, bounded chunks that reassemble
byte for byte, confinement to the library, and unchanged results for clients without Apps."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sqlite3
import tracemalloc
from pathlib import Path

import pytest
from mcp import Client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from sora_mcp.server.apps import PLAYER_URI
from sora_mcp.service.media import MAX_CHUNK
from tests.apps.conftest import apps_client, clip_info, make_clip

pytestmark = pytest.mark.anyio
MODES = ["auto", "legacy"]
LINKED = {"get_status", "create_video", "download_asset", "list_videos"}
APP_ONLY = {"player_clip", "player_chunk", "player_library"}


def _dump(tools) -> list[dict]:
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


@pytest.mark.parametrize("mode", MODES)
async def test_capability_resource_and_links(server, mode: str) -> None:
    async with apps_client(server, mode) as client:
        advertised = client.server_capabilities.extensions or {}
        # 2026-07-28 carries the server's extension map; the 2025-11-25 schema has no such field (the
        # SDK sieves it), so there hosts go by the tools' `_meta.ui`, checked below in both modes.
        assert (EXTENSION_ID in advertised) is (mode == "auto")
        listed = {r.uri: r for r in (await client.list_resources()).resources}
        assert listed[PLAYER_URI].mime_type == APP_MIME_TYPE
        contents = (await client.read_resource(PLAYER_URI)).contents
        tools = {t["name"]: t for t in _dump((await client.list_tools()).tools)}
    assert len(contents) == 1
    page = contents[0]
    assert page.mime_type == APP_MIME_TYPE
    # Declared CSP: nothing external at all; the host's strictest default applies.
    assert page.meta == {"ui": {"csp": {}, "prefersBorder": True}}
    html = page.text
    assert html.lstrip().lower().startswith("<!doctype html>")
    # Self-contained: no remote script, style, font or image (no CDN, no web fonts).
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"""@import|url\(\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert "<script src" not in html.lower()
    for name in LINKED:
        assert tools[name]["_meta"]["ui"] == {"resourceUri": PLAYER_URI}, name
    for name in APP_ONLY:
        assert tools[name]["_meta"]["ui"] == {"resourceUri": PLAYER_URI, "visibility": ["app"]}, name


@pytest.mark.parametrize("mode", MODES)
async def test_clients_without_apps_see_no_app_only_tool(server, mode: str) -> None:
    async with apps_client(server, mode) as client:
        with_apps = _dump((await client.list_tools()).tools)
    async with Client(server, mode=mode) as client:
        without = _dump((await client.list_tools()).tools)
    assert {t["name"] for t in with_apps} - {t["name"] for t in without} == APP_ONLY
    assert without == [t for t in with_apps if t["name"] not in APP_ONLY]
    # What the player adds to an Apps client's tools/list (hosts keep these from the model).
    extra = len(json.dumps([t for t in with_apps if t["name"] in APP_ONLY], separators=(",", ":")))
    assert extra < 2500, extra


@pytest.mark.parametrize("mode", MODES)
async def test_chunks_reassemble_byte_for_byte(server, service, mode: str) -> None:
    async with apps_client(server, mode) as client:
        video_id = await make_clip(client)
        info = await clip_info(client, video_id)
        files = {a.variant: a for a in service.ledger.assets(video_id)}
        for variant, length in (
            ("video", 65536),
            ("video", MAX_CHUNK),
            ("spritesheet", 40000),
            ("thumbnail", 7),
        ):
            path = service.settings.data_dir / files[variant].path
            expected = path.read_bytes()
            got, offset, calls = bytearray(), 0, 0
            while True:
                r = await client.call_tool(
                    "player_chunk",
                    {"video_id": video_id, "variant": variant, "offset": offset, "length": length},
                )
                assert not r.is_error, r.content
                sc = r.structured_content
                data = base64.b64decode(sc["data"])
                assert len(data) == sc["length"] <= min(length, MAX_CHUNK) <= 2 * 1024 * 1024
                assert sc["offset"] == offset and sc["total"] == len(expected)
                got += data
                offset += len(data)
                calls += 1
                if sc["eof"]:
                    break
            assert (
                hashlib.sha256(got).hexdigest()
                == hashlib.sha256(expected).hexdigest()
                == files[variant].sha256
            )
            assert calls == -(-len(expected) // min(length, MAX_CHUNK))
    assert info["video_bytes"] == files["video"].size_bytes
    assert info["thumbnail"].startswith("data:image/webp;base64,")
    assert (
        base64.b64decode(info["thumbnail"].split(",", 1)[1])
        == (service.settings.data_dir / files["thumbnail"].path).read_bytes()
    )
    assert (info["spritesheet"]["cols"], info["spritesheet"]["rows"]) == (4, 4)
    assert (info["id"], info["status"], info["model"], info["size"], info["seconds"]) == (
        video_id,
        "completed",
        "sora-2",
        "1280x720",
        "4",
    )
    assert "paper boat" in info["prompt"] and info["cost_usd"] is not None


async def test_chunk_reads_only_its_range(service, server) -> None:
    """A 64 MB library file is served a chunk at a time without reading the rest of it."""
    async with apps_client(server) as client:
        video_id = await make_clip(client)
    big = service.settings.library_dir / "big" / "video.mp4"
    big.parent.mkdir()
    size = 64 * 1024 * 1024
    with big.open("wb") as fh:  # sparse: a known tail, nothing else written
        fh.seek(size - 10)
        fh.write(b"0123456789")
    service.ledger.add_asset(
        video_id, "video", str(big.relative_to(service.settings.data_dir)), size, "0" * 64
    )
    tracemalloc.start()
    try:
        data, total = await service.read_chunk(video_id, "video", size - MAX_CHUNK, MAX_CHUNK)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size and len(data) == MAX_CHUNK and data.endswith(b"0123456789")
    assert peak < 1.5 * MAX_CHUNK, peak
    async with apps_client(server) as client:
        r = await client.call_tool("player_chunk", {"video_id": video_id, "offset": size - 4, "length": 100})
        too_long = await client.call_tool("player_chunk", {"video_id": video_id, "length": MAX_CHUNK + 1})
    assert base64.b64decode(r.structured_content["data"]) == b"6789" and r.structured_content["eof"]
    assert too_long.is_error and str(MAX_CHUNK) in too_long.content[0].text


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_ids_and_paths_outside_the_library_are_refused(
    service, server, tmp_path: Path, mode: str
) -> None:
    async with apps_client(server, mode) as client:
        video_id = await make_clip(client)
        outside = tmp_path / "outside.mp4"
        video = service.settings.data_dir / next(
            a.path for a in service.ledger.assets(video_id) if a.variant == "video"
        )
        outside.write_bytes(video.read_bytes())

        async def refused(args: dict, *words: str) -> None:
            r = await client.call_tool("player_chunk", args)
            text = r.content[0].text
            assert r.is_error, text
            assert all(w in text for w in words), text
            assert str(tmp_path) not in text and "Traceback" not in text

        await refused({"video_id": "video_unknown"}, "not in the library")
        await refused({"video_id": "../../../etc/passwd"}, "not in the library")
        await refused({"video_id": video_id, "variant": "../../etc/passwd"}, "Unknown variant")
        await refused({"video_id": video_id, "offset": -1}, "offset")
        await refused({"video_id": video_id, "offset": video.stat().st_size + 1}, "past the end")
        unknown = await client.call_tool("player_clip", {"video_id": "video_unknown"})
        assert unknown.is_error and "video_unknown" in unknown.content[0].text

        # The ledger row pointed outside the library (e.g. a tampered or restored database).
        rel = os.path.relpath(outside, service.settings.data_dir)
        with sqlite3.connect(service.settings.ledger_path) as db:
            original = db.execute(
                "SELECT path FROM assets WHERE video_id=? AND variant='video'", (video_id,)
            ).fetchone()[0]
            db.execute("UPDATE assets SET path=? WHERE video_id=? AND variant='video'", (rel, video_id))
        await refused({"video_id": video_id}, "not in the library")
        with sqlite3.connect(service.settings.ledger_path) as db:
            db.execute("UPDATE assets SET path=? WHERE video_id=? AND variant='video'", (original, video_id))

        # A symlink planted in the library that points out of it.
        video.unlink()
        video.symlink_to(outside)
        await refused({"video_id": video_id}, "not in the library")
        video.unlink()
        outside.rename(video)
        ok = await client.call_tool("player_chunk", {"video_id": video_id, "length": 10})
        assert not ok.is_error


async def test_running_job_and_library_gallery(engine, server) -> None:
    async with apps_client(server) as client:
        done = await make_clip(client, "A lighthouse in fog, slow pan")
        engine.set_faults(render_slowdown=50.0)
        job = await client.call_tool("create_video", {"prompt": "A red kite over green dunes"})
        running = await clip_info(client, job.structured_content["id"])
        assert running["status"] in ("queued", "in_progress") and running["video_bytes"] is None
        assert 0 <= running["progress"] < 100
        page = (await client.call_tool("player_library", {})).structured_content
        by_id = {i["id"]: i for i in page["items"]}
        assert by_id[done]["thumbnail"].startswith("data:image/webp;base64,")
        assert by_id[done]["status"] == "completed" and running["id"] in by_id
        found = (await client.call_tool("player_library", {"text": "lighthouse"})).structured_content
        assert [i["id"] for i in found["items"]] == [done]
        failed = (await client.call_tool("player_library", {"status": "failed"})).structured_content
        assert failed["items"] == []


@pytest.mark.parametrize("mode", MODES)
async def test_results_do_not_depend_on_apps(server, mode: str) -> None:
    """Clients without Apps get the same content as Apps clients: the player adds only `_meta`."""
    async with apps_client(server, mode) as client:
        video_id = await make_clip(client)
        # thumbnail=True: get_status inlines a job's thumbnail once per server unless asked again
        calls = [
            ("get_status", {"video_id": video_id, "thumbnail": True}),
            ("download_asset", {"video_id": video_id}),
            ("download_asset", {"video_id": video_id, "variant": "thumbnail"}),
            ("list_videos", {"text": "paper boat"}),
        ]
        with_apps = [await client.call_tool(name, args) for name, args in calls]
    async with Client(server, mode=mode) as client:
        without = [await client.call_tool(name, args) for name, args in calls]
    for a, b in zip(with_apps, without, strict=True):
        assert not a.is_error and not b.is_error
        assert a.model_dump(exclude={"meta"}) == b.model_dump(exclude={"meta"})

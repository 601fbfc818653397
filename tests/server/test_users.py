"""Users in HTTP mode (issue #23 item 1), through the real `sora-mcp serve --transport http` with a
tokens file and the official MCP Client sending each user's bearer token.

Two users and an admin: every tool and resource that takes a video id, tried with another user's
id, answers exactly what a truly unknown id answers (no existence leak) and sends the backend
nothing about it; lists, the library summary and spend are each user's own; files sit in each
user's own folder; the admin sees all. Budgets are per user and hold under concurrent creates.
The tokens file stores only hashes, and an unknown or revoked token gets a 401 that says nothing.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from sora_mcp.config import Settings
from sora_mcp.principal import Budget
from sora_mcp.server.http.users import add_user, token_hash
from tests.results import structured, text
from tests.server.conftest import SECRET_KEY, server_env
from tests.server.journey import wait_done
from tests.server.users_helpers import Serve, connect, raw_post

pytestmark = pytest.mark.anyio

UNKNOWN = "video_" + "0" * 32  # the engine's id shape; no job has it
PROMPT = "A paper boat drifting down a rain gutter"


def _args(tool: Any, video_id: str) -> dict[str, Any]:
    """Arguments for a tool that takes a video id: that id, and plausible values for the rest."""
    props = tool.input_schema.get("properties", {})
    args: dict[str, Any] = {}
    if "video_id" in props:
        args["video_id"] = video_id
    else:
        args["video_ids"] = [video_id]
    fill = {"prompt": PROMPT, "seconds": 4, "offset": 0, "length": 1024, "variant": "video"}
    for name in tool.input_schema.get("required", []):
        if name not in args:
            args[name] = fill[name]
    if tool.name == "extend_video":
        args["seconds"] = 4
    return args


def _same(result_text: str, video_id: str) -> str:
    return result_text.replace(video_id, "<ID>")


def _engine_calls_about(engine: Any, video_id: str) -> int:
    return sum(1 for _, path, _ in engine.stats.requests if video_id in path)


async def test_each_user_sees_and_touches_only_their_own_jobs(
    engine_factory, data_dir: Path, tmp_path: Path
) -> None:
    engine = engine_factory(api_key=SECRET_KEY, poll_after_ms=200)
    settings = Settings(base_url=engine.base_url, api_key=SECRET_KEY, data_dir=data_dir)
    tokens_file = tmp_path / "tokens.toml"
    token = {
        "alice": add_user(tokens_file, "alice"),
        "bob": add_user(tokens_file, "bob"),
        "root": add_user(tokens_file, "root", admin=True),
    }
    with Serve(settings, ["--tokens-file", str(tokens_file)]) as server:
        ids: dict[str, str] = {}
        for user in ("alice", "bob"):
            async with connect(server.url, token[user]) as client:
                made = structured(await client.call_tool("create_video", {"prompt": f"{PROMPT} ({user})"}))
                ids[user] = made["id"]
                await wait_done(client, [made["id"]])
        alice_id, bob_id = ids["alice"], ids["bob"]

        # Files are in each user's own folder of the library.
        library = data_dir / "library" / "users.d"
        assert (library / "alice" / alice_id / "video.mp4").is_file()
        assert (library / "bob" / bob_id / "video.mp4").is_file()

        async with connect(server.url, token["alice"]) as alice:
            tools = [
                t
                for t in (await alice.list_tools()).tools
                if {"video_id", "video_ids"} & set(t.input_schema.get("properties", {}))
            ]
            names = {t.name for t in tools}
            # Every id-taking tool is covered, the player's app-only tools included.
            assert {"get_status", "download_asset", "delete_video", "remix_video", "player_chunk"} <= names
            before = _engine_calls_about(engine, bob_id)
            for tool in tools:
                other = await alice.call_tool(tool.name, _args(tool, bob_id))
                unknown = await alice.call_tool(tool.name, _args(tool, UNKNOWN))
                assert other.is_error and unknown.is_error, (tool.name, text(other))
                assert _same(text(other), bob_id) == _same(text(unknown), UNKNOWN), tool.name
                assert f"No video with id '{bob_id}'" in text(other), (tool.name, text(other))
                assert "forbidden" not in text(other).lower() and "bob" not in text(other)
            assert _engine_calls_about(engine, bob_id) == before, "alice's probes reached the backend"

            # Paths reach no other user's files: not as an input image, not as a download destination.
            bobs_video = library / "bob" / bob_id / "video.mp4"
            bobs_bytes = bobs_video.read_bytes()
            thumb = str(library / "bob" / bob_id / "thumbnail.webp")
            peek = await alice.call_tool("create_video", {"prompt": PROMPT, "input_reference": thumb})
            assert peek.is_error and "outside the folders" in text(peek), text(peek)
            clobber = await alice.call_tool(
                "download_asset", {"video_id": alice_id, "destination": str(bobs_video), "overwrite": True}
            )
            assert clobber.is_error and "outside the folders" in text(clobber), text(clobber)
            assert bobs_video.read_bytes() == bobs_bytes
            own = library / "alice" / "copy.mp4"
            saved = await alice.call_tool("download_asset", {"video_id": alice_id, "destination": str(own)})
            assert (
                not saved.is_error
                and own.read_bytes() == (library / "alice" / alice_id / "video.mp4").read_bytes()
            )

            # The resource template, likewise.
            errors = []
            for vid in (bob_id, UNKNOWN):
                with pytest.raises(MCPError) as caught:
                    await alice.read_resource(f"sora://videos/{vid}")
                errors.append(_same(str(caught.value), vid))
            assert errors[0] == errors[1]

            # A list cursor naming bob's job is as unknown as any other.
            other = await alice.call_tool("list_videos", {"after": bob_id})
            unknown = await alice.call_tool("list_videos", {"after": UNKNOWN})
            assert other.is_error and _same(text(other), bob_id) == _same(text(unknown), UNKNOWN)

            # Alice's own views hold only her job.
            listed = structured(await alice.call_tool("list_videos", {"limit": 100}))
            assert [j["id"] for j in listed["data"]] == [alice_id]
            summary = json.loads((await alice.read_resource("sora://library")).contents[0].text)
            assert summary["jobs"] == 1 and [r["id"] for r in summary["recent"]] == [alice_id]
            spend = structured(await alice.call_tool("get_spend", {}))
            assert spend["total_jobs"] == 1
            spend_resource = json.loads((await alice.read_resource("sora://spend")).contents[0].text)
            assert spend_resource["total_jobs"] == 1

        async with connect(server.url, token["bob"]) as bob:
            # Bob's job is untouched by alice's tries (delete_video among them).
            status = structured(await bob.call_tool("get_status", {"video_id": bob_id}))
            assert status["jobs"][0]["status"] == "completed"
            listed = structured(await bob.call_tool("list_videos", {"limit": 100}))
            assert [j["id"] for j in listed["data"]] == [bob_id]
            assert structured(await bob.call_tool("get_spend", {}))["total_jobs"] == 1
            chunk = await bob.call_tool(
                "player_chunk", {"video_id": bob_id, "variant": "video", "offset": 0, "length": 16}
            )
            assert not chunk.is_error, text(chunk)

        async with connect(server.url, token["root"]) as root:
            listed = structured(await root.call_tool("list_videos", {"limit": 100}))
            assert {j["id"] for j in listed["data"]} == {alice_id, bob_id}
            assert structured(await root.call_tool("get_spend", {}))["total_jobs"] == 2
            seen = await root.call_tool("get_status", {"video_id": bob_id})
            assert not seen.is_error, text(seen)
    assert (library / "bob" / bob_id / "video.mp4").is_file()


async def test_per_user_budget_holds_under_concurrent_creates(
    engine_factory, data_dir: Path, tmp_path: Path
) -> None:
    engine = engine_factory(api_key=SECRET_KEY, poll_after_ms=200)
    settings = Settings(base_url=engine.base_url, api_key=SECRET_KEY, data_dir=data_dir)
    tokens_file = tmp_path / "tokens.toml"
    # sora-2, 1280x720, 4 s is estimated at $0.40: carol's $1.20 pays for exactly three.
    carol = add_user(tokens_file, "carol", budget=Budget(total_usd=1.2))
    dave = add_user(tokens_file, "dave", budget=Budget(daily_usd=0.4))
    with Serve(settings, ["--tokens-file", str(tokens_file)]) as server:
        results: list[Any] = []
        dave_results: list[Any] = []

        async def create(client: Any, into: list[Any], n: int) -> None:
            into.append(await client.call_tool("create_video", {"prompt": f"{PROMPT} #{n}"}))

        async with connect(server.url, carol) as c, connect(server.url, dave) as d:
            async with anyio.create_task_group() as tg:
                for n in range(8):
                    tg.start_soon(create, c, results, n)
                tg.start_soon(create, d, dave_results, 99)  # another user's budget is its own
            ok = [r for r in results if not r.is_error]
            refused = [r for r in results if r.is_error]
            assert len(ok) == 3 and len(refused) == 5, [text(r)[:120] for r in results]
            for r in refused:
                assert "budget" in text(r) and "tokens file" in text(r), text(r)
            assert [r.is_error for r in dave_results] == [False], text(dave_results[0])
            spend = structured(await c.call_tool("get_spend", {}))
            assert spend["total_jobs"] == 3 and abs(spend["total_usd"] - 1.2) < 1e-6
            assert spend["budget_remaining_usd"] == 0
            assert structured(await d.call_tool("get_spend", {}))["total_jobs"] == 1
    assert engine.stats.count("POST", "/v1/videos") == 4


async def test_users_over_sse(engine_factory, data_dir: Path, tmp_path: Path) -> None:
    """The legacy SSE transport carries the user too: each sees only their own jobs."""
    from mcp import Client
    from mcp.client.sse import sse_client

    engine = engine_factory(api_key=SECRET_KEY)
    settings = Settings(base_url=engine.base_url, api_key=SECRET_KEY, data_dir=data_dir)
    tokens_file = tmp_path / "tokens.toml"
    token = {name: add_user(tokens_file, name) for name in ("alice", "bob")}
    with Serve(settings, ["--tokens-file", str(tokens_file)], transport="sse") as server:
        url = f"http://127.0.0.1:{server.port}/sse"

        def client(user: str) -> Client:
            return Client(sse_client(url, headers={"Authorization": f"Bearer {token[user]}"}), mode="legacy")

        async with client("alice") as alice:
            made = structured(await alice.call_tool("create_video", {"prompt": PROMPT, "dry_run": False}))
            assert [j["id"] for j in structured(await alice.call_tool("list_videos", {}))["data"]] == [
                made["id"]
            ]
        async with client("bob") as bob:
            assert structured(await bob.call_tool("list_videos", {}))["data"] == []
            probe = await bob.call_tool("get_status", {"video_id": made["id"]})
            assert probe.is_error and "No video with id" in text(probe)
        assert (await raw_post(url.replace("/sse", "/messages/"), None)).status_code == 401


def test_users_add_stores_only_the_hash(tmp_path: Path, data_dir: Path) -> None:
    tokens_file = tmp_path / "conf" / "tokens.toml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SORA_MCP_")}
    env["SORA_MCP_DATA_DIR"] = str(data_dir)
    made = []
    for name, extra in (("erin", ["--daily-usd", "2.5"]), ("frank", ["--admin"])):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "sora_mcp",
                "users",
                "add",
                name,
                "--tokens-file",
                str(tokens_file),
                *extra,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        token = out.stdout.strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), out.stdout
        assert token not in out.stderr
        made.append(token)
    content = tokens_file.read_text()
    for token in made:
        assert token not in content and token_hash(token) in content
    assert stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    assert "daily_usd = 2.5" in content and "admin = true" in content
    again = subprocess.run(
        [sys.executable, "-m", "sora_mcp", "users", "add", "erin", "--tokens-file", str(tokens_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 2 and "already has a user 'erin'" in again.stderr
    assert tokens_file.read_text() == content


async def test_unknown_and_revoked_tokens_get_a_bare_401(
    engine_factory, data_dir: Path, tmp_path: Path
) -> None:
    engine = engine_factory(api_key=SECRET_KEY)
    settings = Settings(base_url=engine.base_url, api_key=SECRET_KEY, data_dir=data_dir)
    tokens_file = tmp_path / "tokens.toml"
    alice = add_user(tokens_file, "alice")
    bob = add_user(tokens_file, "bob")
    single = "s" * 40  # the one SORA_MCP_AUTH_TOKEN keeps working beside the file (the local owner)
    env = {"SORA_MCP_TOKENS_FILE": str(tokens_file), "SORA_MCP_AUTH_TOKEN": single}
    with Serve(settings, [], env=env) as server:
        assert (await raw_post(server.url, single)).status_code == 200
        assert (await raw_post(server.url, alice)).status_code == 200
        assert (await raw_post(server.url, bob)).status_code == 200
        # Revoke bob: his entry leaves the file; the server reads it again at the next request.
        kept = tokens_file.read_text().split("\n[users.")
        tokens_file.write_text("\n[users.".join(p for p in kept if not p.startswith('"bob"')))
        refusals = [
            await raw_post(server.url, bob),
            await raw_post(server.url, "x" * 43),
            await raw_post(server.url, None),
            await raw_post(server.url, alice[:-1]),
        ]
        assert [r.status_code for r in refusals] == [401] * 4
        bodies = {r.content for r in refusals}
        assert len(bodies) == 1, bodies  # no hint of why: revoked, unknown, missing look alike
        assert b"bob" not in refusals[0].content and b"revoked" not in refusals[0].content
        assert (await raw_post(server.url, alice)).status_code == 200
        # A file that no longer parses refuses everyone (fail closed) until it is fixed.
        good = tokens_file.read_text()
        tokens_file.write_text(good + "\n[users.broken\n")
        assert (await raw_post(server.url, alice)).status_code == 401
        tokens_file.write_text(good + "\n")
        assert (await raw_post(server.url, alice)).status_code == 200
    log = server.close()
    assert alice not in log and bob not in log


def test_a_bad_tokens_file_stops_the_start(engine_factory, data_dir: Path, tmp_path: Path) -> None:
    engine = engine_factory(api_key=SECRET_KEY)
    settings = Settings(base_url=engine.base_url, api_key=SECRET_KEY, data_dir=data_dir)
    tokens_file = tmp_path / "tokens.toml"
    tokens_file.write_text('[users.alice]\ntoken_sha256 = "not-a-hash"\n')
    out = subprocess.run(
        [sys.executable, "-m", "sora_mcp", "serve", "--transport", "http", "--tokens-file", str(tokens_file)],
        env=server_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2 and "token_sha256 must be" in out.stderr and "Traceback" not in out.stderr

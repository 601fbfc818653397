"""Optional: a real LiteLLM proxy on 127.0.0.1 routing `hosted_vllm` to the embedded engine, with
create, retrieve, content and remix (plus list, thumbnail and delete) run through it by our tools.

Skipped unless SORA_MCP_TEST_LITELLM=1. The proxy binary is SORA_MCP_LITELLM_BIN or `litellm` on
PATH (install it apart from sora-mcp, e.g. `python3 -m venv /tmp/litellm-venv &&
/tmp/litellm-venv/bin/pip install 'litellm[proxy]'`). Everything stays on loopback and offline.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx2
import pytest

from sora_mcp.engine import EngineServer

from .conftest import mcp_client, settings_for, structured, text_of

pytestmark = [
    pytest.mark.litellm,
    pytest.mark.anyio,
    pytest.mark.skipif(os.environ.get("SORA_MCP_TEST_LITELLM") != "1", reason="set SORA_MCP_TEST_LITELLM=1"),
]
MASTER_KEY = "sk-litellm-master-test-7f3e"
ENGINE_KEY = "sk-engine-behind-litellm-2b9c"


def _binary() -> str:
    found = os.environ.get("SORA_MCP_LITELLM_BIN") or shutil.which("litellm")
    if not found or not Path(found).is_file():
        pytest.skip("no LiteLLM proxy binary: set SORA_MCP_LITELLM_BIN or put `litellm` on PATH")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _config(engine: EngineServer) -> str:
    return (
        "model_list:\n"
        "  - model_name: sora-2\n"
        "    litellm_params:\n"
        "      model: hosted_vllm/sora-2\n"
        f"      api_base: {engine.base_url}\n"
        f"      api_key: {ENGINE_KEY}\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )


@pytest.fixture
def proxy(engine_factory, tmp_path: Path) -> Iterator[tuple[str, EngineServer]]:  # type: ignore[no-untyped-def]
    """A LiteLLM proxy in front of a keyed engine: (its /v1 URL, the engine)."""
    binary = _binary()
    engine = engine_factory(api_key=ENGINE_KEY)
    workdir = tmp_path / "litellm"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(_config(engine))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "OPENAI_", "LITELLM_"))}
    env.update(
        LITELLM_MASTER_KEY=MASTER_KEY,
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # no download of the price map
        LITELLM_TELEMETRY="False",
        HOSTED_VLLM_API_BASE=engine.base_url,  # LiteLLM's list route needs it for hosted_vllm
        HOSTED_VLLM_API_KEY=ENGINE_KEY,
        NO_PROXY="127.0.0.1,localhost",
    )
    log = (workdir / "proxy.log").open("wb")
    proc = subprocess.Popen(
        [binary, "--config", "config.yaml", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(proc, port, workdir / "proxy.log")
        yield f"http://127.0.0.1:{port}/v1", engine
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"LiteLLM proxy exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"LiteLLM proxy did not start in 120 s:\n{log.read_text()[-2000:]}")


def _check_mp4(path: Path) -> None:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (1280, 720)
        assert abs(sum(1 for _ in container.decode(stream)) - 4 * 24) <= 1


async def test_through_a_real_litellm_proxy(proxy: tuple[str, EngineServer], data_dir: Path) -> None:
    base_url, engine = proxy
    settings = settings_for(
        base_url, data_dir, api_key=MASTER_KEY, request_timeout_s=60.0, max_wait_s=180
    )  # a real proxy renders slowly: the setting for long waits
    async with mcp_client(settings) as client:
        created = structured(
            await client.call_tool(
                "create_video",
                {
                    "prompt": "A red ball bouncing on a wooden floor",
                    "model": "sora-2",
                    "size": "1280x720",
                    "seconds": "4",
                    "extra": {"seed": 11},
                },
            )
        )
        vid = created["id"]
        assert created["backend"] == "litellm" and len(vid) > 150  # LiteLLM's encoded id
        waited = structured(await client.call_tool("get_status", {"video_id": vid, "wait_seconds": 45}))
        assert waited["jobs"][0]["status"] == "completed", waited
        video = structured(await client.call_tool("download_asset", {"video_id": vid}))
        _check_mp4(Path(video["path"]))
        thumb = await client.call_tool("download_asset", {"video_id": vid, "variant": "thumbnail"})
        assert structured(thumb)["derived"] is True and "made locally" in text_of(thumb)

        remix = structured(
            await client.call_tool("remix_video", {"video_id": vid, "prompt": "Same ball, blue"})
        )
        assert remix["remixed_from_video_id"] == vid and remix["id"] != vid  # re-encoded the LiteLLM way
        done = structured(await client.call_tool("get_status", {"video_id": remix["id"], "wait_seconds": 45}))
        assert done["jobs"][0]["status"] == "completed", done
        remixed = structured(await client.call_tool("download_asset", {"video_id": remix["id"]}))
        _check_mp4(Path(remixed["path"]))

        listed = structured(await client.call_tool("list_videos", {}))
        assert {vid, remix["id"]} <= {j["id"] for j in listed["data"]}
        deleted = structured(await client.call_tool("delete_video", {"video_id": vid}))
        assert deleted["deleted"] is False and "cannot delete" in deleted["note"]
    assert engine.stats.count("POST", "/v1/videos") == 1  # one create reached the engine, no retry
    assert sum(1 for m, p, _ in engine.stats.requests if m == "POST" and p.endswith("/remix")) == 1

"""The player in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

`sora-mcp serve --transport http` runs with a bearer token and the embedded engine; a test host
(tests/apps/host/host.html, served by host_server.py) plays the chat client: it calls the tool,
reads the ui:// resource, renders it in a sandboxed iframe under the spec's CSP and proxies the
view's calls to the server through an official MCP client. Everything is asserted from the page.

Without Chromium (or Playwright) the test is skipped, except under CI=true, where it fails.
Set SORA_MCP_PLAYER_SCREENSHOT=docs/player.png to also copy the screenshot there.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx2
import pytest

from sora_mcp.config import Settings
from tests.apps.host_server import HostServer, mcp_client
from tests.hardening.runs.serve_proc import ServeProcess, free_port

TOKEN = "tok-player-browser-7c1d-0f4e9a2b6c3d8e51"  # the HTTP server needs 32+ characters
WAIT_MS = 90_000
CONSOLE: list[str] = []  # the browser's console, shown when a wait times out


@pytest.fixture
def chromium() -> str:
    path = os.environ.get("SORA_MCP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    problem = None
    if path is None or not Path(path).is_file():
        problem = "Chromium is not installed (Debian: apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright is not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("CI") == "true":
            return f"missing: {problem}"  # the test itself fails on this, in CI
        pytest.skip(problem)
    assert path is not None
    return path


@pytest.fixture
def stack(chromium: str, tmp_path: Path):  # the browser is checked first: no server for a skipped test
    settings = Settings(data_dir=tmp_path / "data")  # no base URL: the embedded engine
    proc = ServeProcess(settings, "http", env={"SORA_MCP_AUTH_TOKEN": TOKEN})
    try:
        with HostServer(proc.url, TOKEN, free_port()) as host:
            yield proc, host
    finally:
        stderr = proc.close()
        assert "Traceback" not in stderr, stderr


def _call(url: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        async with mcp_client(url, TOKEN) as client:
            result = await client.call_tool(name, args)
        assert not result.is_error, result.content
        return result.structured_content or {}

    # In a thread of its own: Playwright's sync API keeps an event loop running on this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, run).result(timeout=300)


def make_clip(url: str) -> dict[str, Any]:
    """What the model would do: create, wait; then the player's own view of the finished clip."""
    job = _call(
        url,
        "create_video",
        {
            "prompt": "A paper boat drifting down a rainy street at dusk",
            "shot": {"camera": "slow push-in", "palette": "teal and amber"},
        },
    )
    for _ in range(30):
        _call(url, "get_status", {"video_id": job["id"], "wait_seconds": 45})
        info = _call(url, "player_clip", {"video_id": job["id"]})
        if info["video_bytes"] and info["spritesheet"]:
            return info
    raise AssertionError(f"clip not archived: {info}")


def _open(page: Any, host_url: str, tool: str, args: dict[str, Any], csp: str = "spec") -> Any:
    page.goto(host_url + "?" + urlencode({"tool": tool, "args": json.dumps(args), "csp": csp}))
    frame = page.wait_for_selector("iframe", timeout=WAIT_MS).content_frame()
    assert frame is not None
    return frame


def _wait(frame: Any, js: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        # As a function: a bare expression would be eval()ed in the view, which its CSP forbids.
        frame.wait_for_function(f"() => ({js})", timeout=WAIT_MS)
    except PlaywrightTimeout:
        note = frame.evaluate("document.getElementById('note').textContent")
        raise AssertionError(
            f"timed out waiting for {js}; the player says: {note!r}; console: {CONSOLE[-10:]}"
        ) from None


def test_player_in_headless_chromium(chromium: str, stack, tmp_path: Path) -> None:
    if chromium.startswith("missing: "):
        pytest.fail(f"{chromium[len('missing: ') :]}: under CI=true the browser test must run, not skip")
    from playwright.sync_api import sync_playwright

    proc, host = stack
    # The app-only tools sit behind the same bearer token as every tool.
    bare = httpx2.post(
        proc.url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "player_chunk", "arguments": {"video_id": "x"}},
        },
        headers={"Accept": "application/json, text/event-stream"},
        timeout=10,
    )
    assert bare.status_code == 401
    clip = make_clip(proc.url)
    vid, seconds = clip["id"], float(clip["seconds"])

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, headless=True, args=["--autoplay-policy=no-user-gesture-required"]
        )
        try:
            page = browser.new_page(viewport={"width": 800, "height": 1000})
            CONSOLE.clear()
            page.on("console", lambda m: CONSOLE.append(f"{m.type}: {m.text}"[:300]))
            frame = _open(page, host.url, "get_status", {"video_id": vid})

            # Poster at once, from the thumbnail (a data: image the host's CSP allows).
            _wait(frame, "document.getElementById('video').dataset.poster === 'shown'")
            poster = frame.evaluate("document.getElementById('video').poster")
            assert poster.startswith("data:image/webp;base64,")
            assert base64.b64decode(poster.split(",", 1)[1])[:4] == b"RIFF"
            assert frame.evaluate("document.getElementById('m-id').textContent") == vid
            assert "paper boat" in frame.evaluate("document.getElementById('m-prompt').textContent")

            # The MP4, streamed through player_chunk, plays.
            _wait(frame, "document.getElementById('video').readyState >= 2")
            video = frame.evaluate("""() => { const v = document.getElementById('video');
                return {duration: v.duration, source: v.dataset.source, w: v.videoWidth, h: v.videoHeight}; }""")
            assert abs(video["duration"] - seconds) < 0.25, video
            assert (video["w"], video["h"]) == (1280, 720)
            # The spec's default CSP (media-src 'self' data:) refuses blob: media: the player fell back.
            assert video["source"] == "data", video
            frame.evaluate("document.getElementById('video').play()")
            _wait(frame, "document.getElementById('video').currentTime > 0.5")
            frame.evaluate("document.getElementById('video').pause()")

            # Scrubbing with the spritesheet changes the frame shown in the preview.
            _wait(frame, "!document.getElementById('scrub-wrap').hidden")
            scrub_js = """(value) => { const s = document.getElementById('scrub'); s.value = String(value);
                s.dispatchEvent(new Event('input')); const c = document.getElementById('sprite');
                return {tile: c.dataset.tile, pixels: c.toDataURL('image/png'),
                        time: document.getElementById('video').currentTime}; }"""
            first, last = frame.evaluate(scrub_js, 0), frame.evaluate(scrub_js, 1000)
            assert (first["tile"], last["tile"]) == ("0", "15")
            assert first["pixels"] != last["pixels"]
            middle = frame.evaluate(scrub_js, 400)
            assert middle["tile"] == "6" and middle["pixels"] not in (first["pixels"], last["pixels"])
            assert abs(middle["time"] - 0.4 * seconds) < 0.1
            _wait(frame, "document.getElementById('video').readyState >= 2")
            shot = tmp_path / "player.png"
            page.locator(".chat").screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            if target := os.environ.get("SORA_MCP_PLAYER_SCREENSHOT"):
                from PIL import Image

                with Image.open(shot) as im:  # 256 colours: small enough to commit
                    im.convert("RGB").quantize(256).save(target, optimize=True)

            # Remix through the host: a new job, followed live until it plays.
            frame.click("#a-remix")
            frame.fill("#ask-prompt", "Same street, now at night with neon reflections")
            frame.evaluate("""() => { window.seen = []; const t = document.getElementById('running-text');
                new MutationObserver(() => window.seen.push(t.textContent)).observe(t, {childList: true}); }""")
            frame.click("#ask-go")
            _wait(frame, "!!document.body.dataset.lastJob")
            remix = frame.evaluate("document.body.dataset.lastJob")
            assert remix != vid
            _wait(frame, f"document.getElementById('m-id').textContent === {json.dumps(remix)}")
            _wait(
                frame,
                "document.getElementById('video').readyState >= 2 && "
                "document.getElementById('video').dataset.source === 'data'",
            )
            # The new job showed its live progress before it switched to playback.
            seen = frame.evaluate("window.seen")
            assert any(t.startswith(("Queued", "Rendering")) for t in seen), seen
            made = _call(proc.url, "player_clip", {"video_id": remix})
            assert made["remixed_from"] == vid and made["status"] == "completed"
            assert "night" in made["prompt"]

            # Extend the remix by a new 4 s segment: another job, played when done.
            frame.click("#a-extend")
            assert frame.is_visible("#ask-seconds")
            frame.fill("#ask-prompt", "The boat drifts under a bridge")
            frame.select_option("#ask-seconds", "4")
            frame.click("#ask-go")
            _wait(frame, f"document.body.dataset.lastJob !== {json.dumps(remix)}")
            extended = frame.evaluate("document.body.dataset.lastJob")
            _wait(
                frame,
                f"document.getElementById('m-id').textContent === {json.dumps(extended)} && "
                "document.getElementById('video').readyState >= 2",
            )
            longer = _call(proc.url, "player_clip", {"video_id": extended})
            assert longer["extended_from"] == remix and longer["seconds"] == "8"
            assert abs(frame.evaluate("document.getElementById('video').duration") - 8) < 0.25

            # The gallery: the clips, filtered by text, opening one.
            frame.click("#a-gallery")
            _wait(frame, "document.querySelectorAll('#g-grid li').length === 3")
            frame.fill("#g-text", "neon reflections")
            _wait(frame, "document.querySelectorAll('#g-grid li').length === 1")
            assert frame.get_attribute("#g-grid li button", "data-id") == remix
            frame.fill("#g-text", "no clip says this")
            _wait(frame, "document.getElementById('note').textContent === 'No videos match.'")
            frame.fill("#g-text", "")
            _wait(frame, "document.querySelectorAll('#g-grid li').length === 3")
            frame.click(f"#g-grid button[data-id='{vid}']")
            _wait(
                frame,
                f"document.getElementById('m-id').textContent === {json.dumps(vid)} && "
                "document.getElementById('video').readyState >= 2",
            )

            # Save to the workspace (download_asset), then delete with confirmation.
            frame.click("#a-download")
            _wait(frame, "document.getElementById('note').textContent.startsWith('Saved: ')")
            saved = frame.evaluate("document.getElementById('note').textContent")[len("Saved: ") :]
            assert Path(saved).is_file() and Path(saved).is_relative_to(tmp_path / "data" / "library")
            frame.click("#a-delete")
            assert frame.is_visible("#confirm") and vid in frame.inner_text("#confirm-text")
            frame.click("#confirm-cancel")
            assert not frame.is_visible("#confirm")
            assert _call(proc.url, "player_clip", {"video_id": vid})["status"] == "completed"
            frame.click("#a-delete")
            frame.click("#confirm-go")
            _wait(frame, f"document.getElementById('note').textContent === 'Deleted {vid}.'")
            assert _call(proc.url, "player_clip", {"video_id": vid})["status"] == "deleted"

            log = page.evaluate("window.hostLog")
            assert log[:2] == ["ui/initialize", "ui/notifications/initialized"]
            assert "tools/call" in log and "ui/notifications/size-changed" in log
            assert page.evaluate("window.hostErrors") == []

            # A host whose CSP allows blob: media gets the clip without the data: copy. (The clip was
            # deleted on the backend above; its archived copy still plays.)
            frame = _open(page, host.url, "get_status", {"video_id": vid}, csp="blob")
            _wait(frame, "document.getElementById('video').readyState >= 2")
            assert frame.evaluate("document.getElementById('video').dataset.source") == "blob"
            _wait(frame, "document.getElementById('note').textContent.includes('archived copy')")

            # list_videos opens the gallery.
            frame = _open(page, host.url, "list_videos", {"text": "neon reflections"})
            _wait(frame, "document.querySelectorAll('#g-grid li').length === 1")
            thumb = frame.evaluate(
                "getComputedStyle(document.querySelector('#g-grid .thumb')).backgroundImage"
            )
            assert thumb.startswith('url("data:image/webp;base64,')
        finally:
            browser.close()

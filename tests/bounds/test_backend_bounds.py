"""Backend answers are bounded: in time (a whole-request deadline), in size (JSON answers and
archived files), in where they may lead (no body or key to another origin), and in what of the
key they can echo back. Every test goes through the official MCP Client into a real
VideoService talking HTTP to a hostile server on 127.0.0.1.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import anyio
import pytest

from tests.bounds.conftest import SECRET_KEY, make_settings, mcp, text_of
from tests.bounds.hostile import Hostile

pytestmark = pytest.mark.anyio


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()) if path.exists() else []


async def create(client, **args) -> str:  # type: ignore[no-untyped-def]
    result = await client.call_tool("create_video", {"prompt": "A calm lake at dawn", **args})
    assert not result.is_error, text_of(result)
    return result.structured_content["id"]


async def test_drip_ends_at_the_configured_timeout(tmp_path: Path, backend: Hostile) -> None:
    """1 byte every 3 s never trips a per-read timeout; the whole-request deadline ends it."""
    timeout = 7.0
    async with mcp(make_settings(tmp_path, backend.base_url, request_timeout_s=timeout)) as client:
        video_id = await create(client)
        backend.knobs.retrieve = "drip"
        started = time.monotonic()
        with anyio.fail_after(60):
            result = await client.call_tool("get_status", {"video_id": video_id})
        took = time.monotonic() - started
    assert result.is_error
    assert f"within {timeout:g} s" in text_of(result), text_of(result)
    # Ends at the deadline (plus scheduling slack), not after the ~30,000 s the drip would take.
    assert timeout - 0.5 <= took <= timeout + 5.0, took


async def test_400mb_json_answer_is_refused_at_the_cap(tmp_path: Path, backend: Hostile) -> None:
    async with mcp(make_settings(tmp_path, backend.base_url, max_answer_mb=16)) as client:
        video_id = await create(client)
        backend.knobs.retrieve = "huge"
        with anyio.fail_after(120):
            result = await client.call_tool("get_status", {"video_id": video_id})
    text = text_of(result)
    assert result.is_error and "larger than 16 MB" in text and "stopped reading" in text, text
    # Reading stopped at the cap: the server got to write little more than 16 MB (plus socket
    # buffers) of its 400 MB before the connection was closed.
    assert backend.sent_bytes < 64 * 1024 * 1024, backend.sent_bytes


async def test_endless_download_stops_at_the_cap_and_leaves_nothing(tmp_path: Path, backend: Hostile) -> None:
    settings = make_settings(tmp_path, backend.base_url, max_asset_mb=5)
    async with mcp(settings) as client:
        video_id = await create(client)
        backend.knobs.content = "endless"
        with anyio.fail_after(120):
            result = await client.call_tool("download_asset", {"video_id": video_id})
        text = text_of(result)
        assert result.is_error and "past the 5 MB limit" in text and "nothing partial was kept" in text, text
        assert "SORA_MCP_MAX_ASSET_MB" in text
        assert files_under(settings.library_dir) == []
        assert files_under(settings.tmp_dir) == []
    assert backend.sent_bytes < 64 * 1024 * 1024


async def test_announced_oversize_download_writes_nothing(tmp_path: Path, backend: Hostile) -> None:
    backend.knobs.content_bytes = 3 * 1024 * 1024
    settings = make_settings(tmp_path, backend.base_url, max_asset_mb=1)
    async with mcp(settings) as client:
        video_id = await create(client)
        result = await client.call_tool("download_asset", {"video_id": video_id})
        assert result.is_error and "is 3 MB, past the 1 MB limit" in text_of(result), text_of(result)
        assert files_under(settings.library_dir) == [] and files_under(settings.tmp_dir) == []


async def test_cross_origin_307_gets_no_body_and_no_key(
    tmp_path: Path, backend: Hostile, other_origin: Hostile
) -> None:
    backend.knobs.create = "redirect"
    backend.knobs.redirect_to = other_origin.base_url
    async with mcp(make_settings(tmp_path, backend.base_url)) as client:
        result = await client.call_tool("create_video", {"prompt": "A secret plan for a lighthouse"})
    text = text_of(result)
    assert result.is_error and "redirected the request to another origin" in text, text
    assert other_origin.seen == []  # nothing at all reached the other origin: no prompt, no key
    assert any(s.method == "POST" for s in backend.seen)


async def test_cross_origin_302_get_goes_without_credentials(
    tmp_path: Path, backend: Hostile, other_origin: Hostile
) -> None:
    async with mcp(make_settings(tmp_path, backend.base_url)) as client:
        video_id = await create(client)
        backend.knobs.retrieve = "redirect"
        backend.knobs.redirect_to = other_origin.base_url
        await client.call_tool("get_status", {"video_id": video_id})
    assert other_origin.seen, "the GET redirect was not followed at all"
    for seen in other_origin.seen:
        assert seen.body == b""
        flat = json.dumps(seen.headers).lower()
        assert "authorization" not in flat and SECRET_KEY.lower() not in flat
    # The backend's own origin still got the key (the refusal is only for other origins).
    assert any(
        {k.lower(): v for k, v in s.headers.items()}.get("authorization") == f"Bearer {SECRET_KEY}"
        for s in backend.seen
    )


def key_forms() -> dict[str, str]:
    raw = SECRET_KEY.encode()
    return {
        "plain": SECRET_KEY,
        "url-encoded": quote(SECRET_KEY, safe=""),
        "form-encoded": quote_plus(SECRET_KEY),
        "upper case": SECRET_KEY.upper(),
        "lower case": SECRET_KEY.lower(),
        "json \\/": SECRET_KEY.replace("/", "\\/"),
        "base64": base64.b64encode(raw).decode(),
        "base64 url-safe": base64.urlsafe_b64encode(raw).decode(),
        "base64 in Basic": base64.b64encode(b"user:" + raw).decode(),
        "base64 offset 2": base64.b64encode(b"ab" + raw + b"cd").decode(),
        "hex": raw.hex(),
    }


async def test_scrubber_removes_encoded_forms_of_the_key(tmp_path: Path, backend: Hostile) -> None:
    forms = key_forms()
    backend.knobs.create = "error"
    async with mcp(make_settings(tmp_path, backend.base_url)) as client:
        for label, form in forms.items():
            backend.knobs.error_text = f"bad request from key <{form}> ({label})"
            result = await client.call_tool("create_video", {"prompt": "A calm lake at dawn"})
            text = text_of(result)
            assert result.is_error and f"({label})" in text, text
            assert "***" in text, f"{label}: {text}"
            # What is left of the form is at most the base64 group it shares with its neighbours.
            assert form[8:-8] not in text, f"{label}: {text}"


def test_scrub_forms_directly() -> None:
    from sora_mcp.backends.errors import scrub

    for label, form in key_forms().items():
        out = scrub(f"x {form} y", [SECRET_KEY])
        assert "***" in out and form[8:-8] not in out, (label, out)
        # Only base64 groups holding other bytes may stay: "user:" is one whole group and one it shares
        # with the key's first byte (8 chars), the last shared group and padding (4 chars).
        assert len(out) <= len("x *** y") + 12, (label, out)


async def test_environment_proxy_still_used(backend: Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bounded transport keeps HTTP_PROXY working (httpx stops reading it when given a transport)."""
    from sora_mcp.backends import Backend
    from sora_mcp.config import Settings

    proxy = backend.base_url.rsplit("/v1", 1)[0]
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = Backend.from_settings(Settings(base_url="http://videos.invalid/v1", api_key=SECRET_KEY))
    try:
        await client.list_models()
    finally:
        await client.aclose()
    # The request reached the proxy in absolute form, for the host the proxy is to reach.
    assert any(s.path.startswith("http://videos.invalid/v1/models") for s in backend.seen), backend.seen

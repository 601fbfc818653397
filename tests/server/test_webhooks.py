"""Completion webhooks in HTTP mode: a signed delivery archives the job with no poll after it; bad
signatures, stale timestamps, replays and unsigned deliveries change nothing.

The HTTP app is the one `sora-mcp serve --transport http` builds (bearer token on), reached
through httpx's ASGI transport; the providers are the OpenRouter fake (its `callback_url`
deliveries, signed `t=...,v1=...`) and a generic `/v1/videos` fake sending OpenAI-style Standard
Webhooks, signed with the openai SDK's own scheme.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from sora_mcp.config import Settings
from sora_mcp.service.requests import CreateRequest
from tests.backends.fakes import FakeServer, FakeVideos, real_mp4
from tests.dialects.fake_hosted import FakeOpenRouter
from tests.server.conftest import asgi_http

pytestmark = pytest.mark.anyio

KEY = "sk-webhook-test-key"
SECRET = "or-webhook-signing-secret-123"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-secret-bytes").decode()
TOKEN = "mcp-bearer-token-xyz"


def _openrouter_headers(body: bytes, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    t = str(at if at is not None else int(time.time()))
    sig = hmac.new(secret.encode(), t.encode() + b"," + body, hashlib.sha256).hexdigest()
    return {"x-openrouter-signature": f"t={t},v1={sig}", "content-type": "application/json"}


def _standard_headers(body: bytes, msg_id: str, at: int | None = None) -> dict[str, str]:
    t = str(at if at is not None else int(time.time()))
    key = base64.b64decode(STANDARD_SECRET.removeprefix("whsec_"))
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{t}.".encode() + body, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": t, "webhook-signature": f"v1,{sig}"}


@pytest.fixture(scope="module")
def mp4() -> bytes:
    return real_mp4()


def _finish(fake: FakeVideos, vid: str) -> dict[str, Any]:
    job = fake.jobs[vid]
    job["step"], job["status"], job["progress"] = len(fake.steps) - 1, fake.steps[-1], 100
    return job


def _polls(fake: FakeVideos, vid: str) -> int:
    return len([p for m, p, _ in fake.log if m == "GET" and p.rstrip("/").endswith(f"/videos/{vid}")])


async def test_openrouter_webhook_archives_without_polling(
    tmp_path: Path, mp4: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeOpenRouter(api_key=KEY)
    fake.use_mp4(mp4)
    with FakeServer(fake) as server:
        settings = Settings(
            base_url=f"{server.origin}/api/v1",
            dialect="openrouter",
            api_key=KEY,
            data_dir=tmp_path / "data",
            watch=False,
            auth_token=TOKEN,
            webhook_secret=SECRET,
            webhook_url="https://sora.example/webhooks/video",
        )
        async with asgi_http(settings) as (service, http):
            job = await service.create(CreateRequest(prompt="a kite", model="google/veo-3.1", seconds=4))
            assert fake.bodies[-1]["callback_url"] == "https://sora.example/webhooks/video"
            assert (await http.post("/mcp", json={})).status_code == 401  # the MCP route keeps its token
            event = {
                "type": "video.generation.completed",
                "created_at": "2026-12-07T00:00:00Z",
                "data": fake.render(_finish(fake, job.id)),
            }
            body = json.dumps(event).encode()
            polls = _polls(fake, job.id)

            caplog.set_level(logging.INFO, logger="sora_mcp.server.webhooks")
            bad = await http.post(
                "/webhooks/video", content=body, headers=_openrouter_headers(body, "wrong-secret")
            )
            stale = await http.post(
                "/webhooks/video", content=body, headers=_openrouter_headers(body, at=int(time.time()) - 3600)
            )
            unsigned = await http.post(
                "/webhooks/video", content=body, headers={"content-type": "application/json"}
            )
            assert (bad.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
            assert service.ledger.get(job.id).status == "queued"  # nothing changed

            headers = _openrouter_headers(body)
            good = await http.post("/webhooks/video", content=body, headers=headers)
            assert good.status_code == 204
            await service.archived(job.id)
            record = service.ledger.get(job.id)
            assert record.status == "completed" and record.asset("video") is not None
            assert record.cost_usd == pytest.approx(1.44) and "billed" in record.cost_note
            assert (tmp_path / "data" / record.asset("video").path).read_bytes() == mp4
            assert _polls(fake, job.id) == polls  # archived with no poll after the webhook

            replay = await http.post("/webhooks/video", content=body, headers=headers)
            assert replay.status_code == 401
            tampered = body.replace(b"completed", b"failed", 1)
            assert (await http.post("/webhooks/video", content=tampered, headers=headers)).status_code == 401
            assert service.ledger.get(job.id).status == "completed"
    logged = caplog.text
    assert (
        "bad signature" in logged and "replayed" in logged and "tolerance" in logged and "unsigned" in logged
    )
    assert SECRET not in logged and headers["x-openrouter-signature"] not in logged


async def test_standard_webhooks_video_completed(tmp_path: Path, mp4: bytes) -> None:
    fake = FakeVideos(api_key=KEY)
    fake.use_mp4(mp4)
    with FakeServer(fake) as server:
        settings = Settings(
            base_url=server.base_url,
            api_key=KEY,
            dialect="generic",
            data_dir=tmp_path / "data",
            watch=False,
            webhook_secret=STANDARD_SECRET,
        )
        async with asgi_http(settings) as (service, http):
            job = await service.create(CreateRequest(prompt="a kite", seconds=4))
            _finish(fake, job.id)
            polls = _polls(fake, job.id)
            body = json.dumps(
                {
                    "id": "evt_1",
                    "object": "event",
                    "created_at": int(time.time()),
                    "type": "video.completed",
                    "data": {"id": job.id},
                }
            ).encode()
            stale = await http.post(
                "/webhooks/video",
                content=body,
                headers=_standard_headers(body, "msg_1", at=int(time.time()) - 3600),
            )
            assert stale.status_code == 401 and service.ledger.get(job.id).status == "queued"
            headers = _standard_headers(body, "msg_1")
            assert (await http.post("/webhooks/video", content=body, headers=headers)).status_code == 204
            await service.archived(job.id)
            record = service.ledger.get(job.id)
            assert record.status == "completed" and record.asset("video") is not None
            assert _polls(fake, job.id) == polls
            assert (await http.post("/webhooks/video", content=body, headers=headers)).status_code == 401
            unknown = json.dumps({"type": "video.completed", "data": {"id": "video_not_ours"}}).encode()
            answer = await http.post(
                "/webhooks/video", content=unknown, headers=_standard_headers(unknown, "msg_2")
            )
            assert answer.status_code == 204 and service.ledger.get("video_not_ours") is None


async def test_oversized_and_wrong_method(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", watch=False, webhook_secret=SECRET)
    async with asgi_http(settings) as (_, http):
        big = b"{" + b" " * (300 * 1024) + b"}"
        assert (
            await http.post("/webhooks/video", content=big, headers=_openrouter_headers(big))
        ).status_code == 413
        assert (await http.get("/webhooks/video")).status_code == 405

"""Completion webhooks in HTTP mode: `POST /webhooks/video`, verified, then the job archived at once.

Two signed formats are accepted, told apart by their headers:
- OpenRouter's `callback_url` deliveries (openrouter.ai/docs/cookbook/video-generation/
  video-generation-webhooks): `X-OpenRouter-Signature: t=<unix>,v1=<hex HMAC-SHA256>` over
  `"<t>," + raw body`, with the event `{type: "video.generation.completed", data: {id, status,
  unsigned_urls, usage}}`. (The signed-string layout is as described in a public write-up of the
  receiver; the cookbook's own code was not readable here.)
- Standard Webhooks, as OpenAI's `video.completed` and the `/v1/videos` servers copying it send
  (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>`), checked with the openai
  SDK's own `webhooks.verify_signature` (constant time, timestamp tolerance).

Every delivery must be signed with `SORA_MCP_WEBHOOK_SECRET`, be within the tolerance, and not be
a replay (its id or signature seen before). A refused delivery changes nothing and is logged
without the secret or the signature. The route sits outside the bearer-token check (a provider
cannot send our token); its signature is its authentication. Polling stays the fallback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from sora_mcp.service import VideoService

log = logging.getLogger("sora_mcp.server.webhooks")

PATH = "/webhooks/video"
MAX_BODY = 256 * 1024
READ_TIMEOUT_S = 10.0
_REPLAY_MEMORY = 10_000


class Refused(Exception):
    """Why a delivery was not accepted (logged; the sender gets only the status)."""


class Verifier:
    """Checks signatures and remembers what it has accepted, to refuse replays."""

    def __init__(self, secret: str, *, tolerance_s: int = 300) -> None:
        self._secret = secret
        self.tolerance_s = tolerance_s
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._sdk: Any = None  # the openai client whose webhooks.verify_signature checks Standard Webhooks

    def _remember(self, key: str) -> None:
        now = time.time()
        while self._seen and (len(self._seen) >= _REPLAY_MEMORY or next(iter(self._seen.values())) < now):
            self._seen.popitem(last=False)  # older than the tolerance: their timestamps refuse them anyway
        if key in self._seen:
            raise Refused("replayed delivery (already accepted once)")
        self._seen[key] = now + 2 * self.tolerance_s

    def _fresh(self, timestamp: str) -> None:
        try:
            sent = int(timestamp)
        except ValueError:
            raise Refused("timestamp is not a number") from None
        if abs(time.time() - sent) > self.tolerance_s:
            raise Refused(f"timestamp outside the {self.tolerance_s} s tolerance")

    def verify(self, headers: dict[str, str], body: bytes) -> None:
        """Raise `Refused` unless the delivery is signed with the secret, fresh and new."""
        if (header := headers.get("x-openrouter-signature")) is not None:
            parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
            timestamp, given = parts.get("t", ""), parts.get("v1", "")
            self._fresh(timestamp)
            expected = hmac.new(
                self._secret.encode(), timestamp.encode() + b"," + body, hashlib.sha256
            ).hexdigest()
            if not hmac.compare_digest(expected, given):
                raise Refused("bad signature")
            self._remember(f"openrouter:{given}")
            return
        if "webhook-signature" in headers:
            import openai

            self._sdk = self._sdk or openai.OpenAI(api_key="unused-for-verification")
            try:
                self._sdk.webhooks.verify_signature(
                    body, headers, secret=self._secret, tolerance=self.tolerance_s
                )
            except (openai.InvalidWebhookSignatureError, ValueError) as exc:
                raise Refused(f"bad signature or timestamp ({type(exc).__name__})") from None
            self._remember(f"standard:{headers.get('webhook-id', '')}")
            return
        raise Refused("unsigned delivery")


def job_update(event: Any) -> tuple[str, dict[str, Any]] | None:
    """(video id, job fields) from either event shape; None when it is not about a video job."""
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        return None
    data = dict(event["data"])
    video_id = data.get("id")
    if not isinstance(video_id, str) or not video_id:
        return None
    kind = str(event.get("type") or "")
    if "status" not in data and kind.startswith("video."):
        data["status"] = kind.rsplit(".", 1)[-1]  # OpenAI's video.completed / video.failed carry the id only
    return video_id, data


class WebhookRoute:
    """ASGI wrapper answering `POST /webhooks/video`; every other request goes to `app`."""

    def __init__(self, app: ASGIApp, service: VideoService, verifier: Verifier) -> None:
        self.app = app
        self.service = service
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != PATH:
            await self.app(scope, receive, send)
            return
        status = await self._handle(scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _handle(self, scope: Scope, receive: Receive) -> int:
        if scope.get("method") != "POST":
            return 405
        body = b""
        more = True
        with anyio.move_on_after(READ_TIMEOUT_S) as read:  # a sender trickling bytes is cut off
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_BODY:
                    return 413
        if read.cancelled_caught:
            return 408
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        try:
            self.verifier.verify(headers, body)
        except Refused as exc:
            log.warning("webhook refused: %s", exc)  # never the secret, the signature or the body
            return 401
        try:
            update = job_update(json.loads(body))
        except ValueError:
            return 400
        if update is None:
            return 204
        try:
            known = await self.service.apply_webhook(*update)
        except Exception as exc:  # noqa: BLE001 - any failure: answer 500 so the provider retries later
            log.warning("webhook for %s could not be applied: %s", update[0], type(exc).__name__)
            return 500
        if not known:
            log.info("webhook for a job this library did not make (%s): ignored", update[0])
        return 204

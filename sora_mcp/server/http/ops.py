"""Operator pieces of the HTTP app: health probes, a request id on every request, JSON log lines.

- `/healthz` answers 200 while the process serves; `/readyz` answers 200 when the ledger's
  database and the asset store are reachable, else 503 naming the failing part (never a URL,
  a password or a path). Both sit outside the bearer check (a load balancer or kubelet has no
  token) and inside the Host guard; GET and HEAD only.
- `RequestIds`: the request id is the client's `X-Request-Id` when it is a plain short token,
  otherwise a new one; it is echoed in the response header and held in a context variable, so
  every log line written while the request is handled carries it (`JsonFormatter`). A session
  of a 2025-* client runs in a task started by its first request, so its later calls log that
  request's id.
- `JsonFormatter`: one JSON object per line (`ts`, `level`, `logger`, `msg`, `request_id`,
  `exc` when there is one), for `--log-format json` / `SORA_MCP_LOG_FORMAT=json`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sora_mcp.server.http.guards import send_json

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("sora_mcp_request_id", default=None)

HEADER = b"x-request-id"
_GIVEN_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
HEALTH = "/healthz"
READY = "/readyz"
READY_TIMEOUT_S = 5.0

Readiness = Callable[[], Awaitable[list[str]]]


class RequestIds:
    """Gives every HTTP request an id (the client's, when sane) and echoes it in `X-Request-Id`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(HEADER, b"").decode("latin-1")
        rid = given if _GIVEN_ID.fullmatch(given) else secrets.token_hex(8)
        token = request_id.set(rid)

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers") or [] if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, rid.encode("latin-1"))]}
            await send(message)

        try:
            await self.app(scope, receive, tagged)
        finally:
            request_id.reset(token)


class Probes:
    """Answers `/healthz` and `/readyz`; everything else goes on to `app`."""

    def __init__(self, app: ASGIApp, readiness: Readiness) -> None:
        self.app, self.readiness = app, readiness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") if scope["type"] == "http" else None
        if path not in (HEALTH, READY):
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, {"error": "use GET"}, head=False)
            return
        head = scope["method"] == "HEAD"
        if path == HEALTH:
            await _answer(send, 200, {"status": "ok"}, head=head)
            return
        import anyio

        failing: list[str] = ["readiness check timed out"]
        with anyio.move_on_after(READY_TIMEOUT_S):
            failing = await self.readiness()
        if failing:
            logging.getLogger("sora_mcp.http").warning("not ready: %s", "; ".join(failing))
            await _answer(send, 503, {"status": "unavailable", "failing": failing}, head=head)
        else:
            await _answer(send, 200, {"status": "ready"}, head=head)


async def _answer(send: Send, status: int, body: dict[str, Any], *, head: bool) -> None:
    await send_json(send, status, body, [(b"cache-control", b"no-store")], head=head)


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, with the request id of the request being handled."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (rid := request_id.get()) is not None:
            out["request_id"] = rid
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)

"""Bounded Streamable HTTP sessions: an `initialize` flood cannot lock out legacy (2025-*) clients.

The SDK's session manager keeps every session an `initialize` opens until it is idle for 30
minutes, and refuses new ones (503) once 10,000 are open, so 10,000 bare `initialize` POSTs
locked every 2025-06-18/2025-11-25 client out for half an hour. Modern (2026-07-28) requests
are stateless in the SDK and never reach a session. `SessionGuard` watches the session ids on
the wire and ends sessions itself:

- A session is *pending* from its `initialize` answer until its first follow-up request (a real
  client sends `notifications/initialized` at once). Pending sessions expire after
  `pending_ttl_s`, and past `max_pending` the oldest pending one is ended for the newcomer.
- A session with a follow-up is *active*. Past `max_sessions` the least recently used active
  session with no request in flight (no open GET stream either) is ended.

Sessions are ended through the app's own public protocol: an internal `DELETE /mcp` with the
session id, exactly what a client sends to close its session.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("sora_mcp.http")
SESSION_HEADER = b"mcp-session-id"


class SessionGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_sessions: int,
        max_pending: int = 256,
        pending_ttl_s: float = 30.0,
        path: str = "/mcp",
    ) -> None:
        self.app, self.path = app, path
        self.max_sessions, self.max_pending, self.pending_ttl_s = max_sessions, max_pending, pending_ttl_s
        self.pending: OrderedDict[str, float] = OrderedDict()  # id → opened (monotonic)
        self.active: OrderedDict[str, float] = OrderedDict()  # id → last used, least recent first
        self.in_flight: Counter[str] = Counter()
        self.ended = 0
        self._doomed: list[str] = []
        self._wake: anyio.Event | None = None  # made in run(): an Event needs the running loop

    @staticmethod
    def sdk_cap(max_sessions: int, max_pending: int = 256) -> int:
        """The SDK manager's own cap: above ours, so it only binds when every session is busy."""
        return max_sessions + max_pending + 64

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        sid = dict(scope.get("headers") or []).get(SESSION_HEADER, b"").decode("latin-1")
        if not sid:
            await self.app(scope, receive, self._watch_new(send))
            return
        self._touch(sid)
        self.in_flight[sid] += 1
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.in_flight[sid] -= 1
            if self.in_flight[sid] <= 0:
                del self.in_flight[sid]
            if status == 404 or (scope["method"] == "DELETE" and 200 <= status < 300):
                self._forget(sid)

    def _watch_new(self, send: Send) -> Any:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                sid = dict(message.get("headers") or []).get(SESSION_HEADER, b"").decode("latin-1")
                if sid:
                    self.pending[sid] = time.monotonic()
                    while len(self.pending) > self.max_pending:
                        oldest = self.pending.popitem(last=False)[0]
                        self._end(oldest, "too many sessions awaiting initialization")
            await send(message)

        return watch

    def _touch(self, sid: str) -> None:
        if self.pending.pop(sid, None) is not None or sid in self.active:
            self.active[sid] = time.monotonic()
            self.active.move_to_end(sid)
            if len(self.active) > self.max_sessions:
                idle = next((s for s in self.active if s != sid and not self.in_flight.get(s)), None)
                if idle is not None:
                    del self.active[idle]
                    self._end(idle, "session cap reached, least recently used")

    def _forget(self, sid: str) -> None:
        self.pending.pop(sid, None)
        self.active.pop(sid, None)

    def _end(self, sid: str, why: str) -> None:
        logger.warning("ending MCP session: %s (SORA_MCP_HTTP_MAX_SESSIONS)", why)
        self._doomed.append(sid)
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """The janitor: ends expired pending sessions and those marked for ending. Runs until cancelled."""
        while True:
            self._wake = anyio.Event()
            if not self._doomed:
                with anyio.move_on_after(1.0):
                    await self._wake.wait()
            cutoff = time.monotonic() - self.pending_ttl_s
            while self.pending and next(iter(self.pending.values())) < cutoff:
                self._doomed.append(self.pending.popitem(last=False)[0])
            doomed, self._doomed = self._doomed, []
            for sid in doomed:
                await self._delete(sid)

    async def _delete(self, sid: str) -> None:
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "DELETE",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "client": None,
            "server": None,
            "state": {},
            "headers": [(SESSION_HEADER, sid.encode("latin-1")), (b"host", b"127.0.0.1")],
        }
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        async def send(message: Message) -> None:
            return None

        try:
            with anyio.fail_after(10):
                await self.app(scope, receive, send)
            self.ended += 1
        except Exception as exc:  # noqa: BLE001 - one session failing to end must not stop the janitor
            logger.warning("could not end MCP session: %s", type(exc).__name__)

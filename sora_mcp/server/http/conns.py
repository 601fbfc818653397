"""Connection limits for the HTTP transports: a header/body deadline and a cap on open connections.

uvicorn closes a keep-alive connection that stays idle after a response, but not one that never
sends a byte or drips its headers (its keep-alive timer is only armed after a response and every
received byte cancels it). So every connection goes through `ConnectionGuard`:

- A deadline (`header_timeout_s`) is armed when the connection opens and again after each
  response; it is disarmed once the request's headers *and* body have arrived. A connection
  still waiting when it fires is closed.
- At most `max_connections` are kept open. Past the cap, the oldest connections waiting for a
  request are closed: silent new ones first (half-open floods), then silent keep-alive ones,
  then those sending slowly. Connections serving a request are never closed for room; when
  that many are busy (or twice the cap are open), a newcomer is closed at once.

The guard wraps uvicorn's own protocol class through the asyncio `Protocol` interface (the
documented `http=` hook of `uvicorn.Config`); the ASGI half (`guard.asgi(app)`) tells it, by the
request's client address, when a request's headers and body are in and when its answer is out.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("sora_mcp.http")

Peer = tuple[str, int]


class ConnectionGuard:
    """Shared state of every connection of one server (counters: how often each limit acted)."""

    def __init__(self, *, header_timeout_s: float, max_connections: int) -> None:
        self.header_timeout_s = header_timeout_s
        self.max_connections = max_connections
        self.open: dict[Peer, _Conn] = {}
        # Waiting connections in the order they started waiting: never-used ones, then idle ones.
        self.fresh: OrderedDict[Peer, _Conn] = OrderedDict()
        self.idle: OrderedDict[Peer, _Conn] = OrderedDict()
        self.timed_out = self.evicted = self.refused = 0
        self._trim_at: asyncio.TimerHandle | None = None

    def protocol_class(self) -> type[asyncio.Protocol]:
        """A class for `uvicorn.Config(http=...)`: uvicorn's own protocol, wrapped by this guard."""
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        guard = self

        class GuardedProtocol(asyncio.Protocol):
            def __init__(self, **kwargs: Any) -> None:
                self.inner = AutoHTTPProtocol(**kwargs)
                self.conn: _Conn | None = None

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.conn = guard._admit(transport)
                if self.conn is not None:
                    self.inner.connection_made(transport)

            def data_received(self, data: bytes) -> None:
                if self.conn is not None:
                    self.conn.got_bytes = True
                    self.inner.data_received(data)

            def eof_received(self) -> bool | None:
                return self.inner.eof_received() if self.conn is not None else None

            def connection_lost(self, exc: Exception | None) -> None:
                if self.conn is not None:
                    guard._forget(self.conn)
                    self.inner.connection_lost(exc)

            def pause_writing(self) -> None:
                self.inner.pause_writing()

            def resume_writing(self) -> None:
                self.inner.resume_writing()

        return GuardedProtocol

    # -- the protocol side ---------------------------------------------------------------

    def _admit(self, transport: asyncio.BaseTransport) -> _Conn | None:
        peer = transport.get_extra_info("peername")
        if not isinstance(peer, tuple) or len(peer) < 2:  # not TCP: nothing to key it by
            return _Conn(self, ("", 0), transport)
        busy = len(self.open) - len(self.fresh) - len(self.idle)
        if busy >= self.max_connections or len(self.open) >= 2 * self.max_connections:
            self.refused += 1
            logger.warning(
                "HTTP connection refused: %d connections open, %d serving requests "
                "(SORA_MCP_HTTP_MAX_CONNECTIONS)",
                len(self.open),
                busy,
            )
            # A TCP connection's transport is a full asyncio.Transport (abort included); the
            # Protocol interface only promises BaseTransport.
            transport.abort()  # type: ignore[attr-defined]
            return None
        conn = _Conn(self, (str(peer[0]), int(peer[1])), transport)
        self.open[conn.peer] = conn
        conn.wait(fresh=True)
        if len(self.open) > self.max_connections and self._trim_at is None:
            # Trimmed a moment later, not now: a burst is accepted in one go, and a real client's
            # request bytes (which spare its connection) are read only on a later loop turn.
            self._trim_at = asyncio.get_running_loop().call_later(0.05, self._trim)
        return conn

    def _trim(self) -> None:
        self._trim_at = None
        while len(self.open) > self.max_connections and (victim := self._victim()) is not None:
            self.evicted += 1
            logger.warning(
                "HTTP connection cap (%d) reached: closing the longest-waiting idle connection "
                "(SORA_MCP_HTTP_MAX_CONNECTIONS)",
                self.max_connections,
            )
            victim.close()

    def _victim(self) -> _Conn | None:
        """Silent new connections, then silent keep-alive ones, then those sending slowly; oldest first."""
        for group, sent in ((self.fresh, False), (self.idle, False), (self.fresh, True), (self.idle, True)):
            for conn in group.values():
                if conn.got_bytes == sent:
                    return conn
        return None

    def _forget(self, conn: _Conn) -> None:
        conn.stop_waiting()
        if self.open.get(conn.peer) is conn:
            del self.open[conn.peer]

    # -- the ASGI side -------------------------------------------------------------------

    def asgi(self, app: ASGIApp) -> ASGIApp:
        """Wraps `app` so each request tells its connection when it was read and when it was answered."""

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            client = scope.get("client") if scope["type"] == "http" else None
            conn = self.open.get((str(client[0]), int(client[1]))) if client else None
            if conn is None:
                await app(scope, receive, send)
                return
            headers = dict(scope.get("headers") or [])
            length = headers.get(b"content-length", b"0")
            has_body = length not in (b"0", b"") or b"transfer-encoding" in headers
            conn.busy(body_pending=has_body)

            async def watched_receive() -> Message:
                message = await receive()
                if message["type"] == "http.request" and not message.get("more_body", False):
                    conn.body_done()
                return message

            async def watched_send(message: Message) -> None:
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body", False):
                    conn.wait(fresh=False)

            await app(scope, watched_receive if has_body else receive, watched_send)

        return guarded


class _Conn:
    """One connection's deadline and place in the guard's waiting lists."""

    def __init__(self, guard: ConnectionGuard, peer: Peer, transport: asyncio.BaseTransport) -> None:
        self.guard, self.peer, self.transport = guard, peer, transport
        self.timer: asyncio.TimerHandle | None = None
        self.got_bytes = False  # since it began waiting

    def wait(self, *, fresh: bool) -> None:
        """Waiting for a request: arm the deadline; the connection may be closed for room."""
        self.stop_waiting()
        self.got_bytes = False
        if self.transport.is_closing():
            return
        (self.guard.fresh if fresh else self.guard.idle)[self.peer] = self
        self.timer = asyncio.get_running_loop().call_later(self.guard.header_timeout_s, self._expired)

    def busy(self, *, body_pending: bool) -> None:
        """Headers are in: no longer evictable; the deadline keeps running until the body is in."""
        self.guard.fresh.pop(self.peer, None)
        self.guard.idle.pop(self.peer, None)
        if not body_pending:
            self.body_done()

    def body_done(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def stop_waiting(self) -> None:
        self.busy(body_pending=False)

    def _expired(self) -> None:
        self.timer = None
        self.guard.timed_out += 1
        logger.warning(
            "HTTP connection closed: no complete request within %.0f s (SORA_MCP_HTTP_HEADER_TIMEOUT_S)",
            self.guard.header_timeout_s,
        )
        self.close()

    def close(self) -> None:
        self.stop_waiting()
        if self.guard.open.get(self.peer) is self:
            del self.guard.open[self.peer]
        self.transport.abort()  # type: ignore[attr-defined]  # a TCP transport: see _admit


def raise_open_file_limit() -> None:
    """Lift the soft limit on open files to the hard one: the connection cap, not EMFILE, should bind."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass

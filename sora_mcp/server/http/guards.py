"""Request checks in front of the MCP HTTP transports: Host/Origin, the bearer token, held-stream cap.

One Host/Origin guard serves both transports (the SDK's own check is switched off behind it), so
`--allowed-host` means the same thing for /mcp and /sse. Every refusal is a small JSON body that
names the problem and the fix.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger("sora_mcp.http")

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
ALL_INTERFACES = ("0.0.0.0", "::", "")
MIN_TOKEN_CHARS = 32
MAKE_TOKEN = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


async def refuse(send: Send, status: int, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await send_json(send, status, {"error": message}, headers)


async def send_json(
    send: Send,
    status: int,
    body: dict[str, Any],
    headers: Iterable[tuple[bytes, bytes]] = (),
    *,
    head: bool = False,
) -> None:
    """A whole JSON answer from raw ASGI (guards and probes answer before any app runs); `head`:
    the headers of the answer without its body."""
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else data})


def allowed_hosts(bind: str, extra: Iterable[str]) -> set[str]:
    """Host names a request may be addressed to: loopback names, the bind address, the machine's
    names when binding every interface, and whatever the user added (`--allowed-host`)."""
    names = set(LOOPBACK_NAMES)
    if bind in ALL_INTERFACES:
        for name in (socket.gethostname(), socket.getfqdn()):
            if name:
                names.add(name)
    else:
        names.add(bind)
    names.update(e.strip() for e in extra if e.strip())
    return {n.lower().strip("[]") for n in names}


def host_name(value: str) -> str:
    """'Name:port', '[::1]:port', 'name' → the bare lower-case name ('' when it cannot be parsed)."""
    try:
        return (urlsplit(f"//{value}").hostname or "").lower()
    except ValueError:
        return ""


class HostGuard:
    """Refuses a Host that is not ours (421) and a foreign or `null` Origin (403): DNS rebinding."""

    def __init__(self, app: ASGIApp, hosts: set[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            host = host_name(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.hosts:
                await refuse(
                    send,
                    421,
                    "this server does not answer to that Host: add the name the clients "
                    "use with --allowed-host NAME (or SORA_MCP_ALLOWED_HOSTS)",
                )
                return
            origin = headers.get(b"origin")
            if origin is not None and not self._origin_ok(origin.decode("latin-1")):
                await refuse(
                    send,
                    403,
                    "cross-origin requests are refused: the Origin must be one of this "
                    "server's allowed hosts (--allowed-host)",
                )
                return
        await self.app(scope, receive, send)

    def _origin_ok(self, origin: str) -> bool:
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and (parts.hostname or "").lower() in self.hosts


class BearerAuth:
    """Refuses every HTTP request without `Authorization: Bearer <token>` (401)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await refuse(
                    send,
                    401,
                    "unauthorized: send Authorization: Bearer <SORA_MCP_AUTH_TOKEN>",
                    [(b"www-authenticate", b"Bearer")],
                )
                return
        await self.app(scope, receive, send)


class StreamCap:
    """At most `limit` held event streams (GET /sse, GET /mcp) at once; more answer 503."""

    def __init__(self, app: ASGIApp, limit: int, paths: tuple[str, ...] = ("/sse", "/mcp")) -> None:
        self.app, self.limit, self.paths = app, limit, paths
        self.held = self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"].rstrip("/") not in self.paths:
            await self.app(scope, receive, send)
            return
        if self.held >= self.limit:
            self.refused += 1
            logger.warning("event stream refused: %d are open (SORA_MCP_HTTP_MAX_STREAMS)", self.held)
            await refuse(
                send,
                503,
                f"too many open event streams ({self.limit}): close one and retry, "
                "or raise SORA_MCP_HTTP_MAX_STREAMS",
                [(b"retry-after", b"5")],
            )
            return
        self.held += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.held -= 1

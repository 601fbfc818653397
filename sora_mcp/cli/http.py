"""Serving the MCP server over HTTP (Streamable HTTP at /mcp, or SSE at /sse) with a bearer token."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class BearerAuth:
    """Refuses every HTTP request without `Authorization: Bearer <token>` (401)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                body = b'{"error": "unauthorized: send Authorization: Bearer <SORA_MCP_AUTH_TOKEN>"}'
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def build_http_app(mcp: Any, settings: Any, *, transport: str, host: str, service: Any = None) -> ASGIApp:
    from mcp.server.transport_security import TransportSecuritySettings

    security = None
    if host not in LOOPBACK:
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=[host, f"{host}:*"],
            allowed_origins=[f"http://{host}:*", f"https://{host}:*"],
        )
    if transport == "sse":
        app: ASGIApp = mcp.sse_app(host=host, transport_security=security)
    else:
        app = mcp.streamable_http_app(host=host, transport_security=security)
    if settings.auth_token is not None:
        app = BearerAuth(app, settings.auth_token.get_secret_value())
    if service is not None and settings.webhook_secret is not None:
        from sora_mcp.webhooks import Verifier, WebhookRoute  # signed, so outside the bearer check

        verifier = Verifier(settings.webhook_secret.get_secret_value(), tolerance_s=settings.webhook_tolerance_s)
        app = WebhookRoute(app, service, verifier)
    return app


async def serve_http(mcp: Any, settings: Any, *, transport: str, host: str, port: int, log_level: str,
                     service: Any = None) -> None:
    import uvicorn

    app = build_http_app(mcp, settings, transport=transport, host=host, service=service)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level.lower(), lifespan="on")
    await uvicorn.Server(config).serve()

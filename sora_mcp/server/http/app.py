"""Serving the MCP server over HTTP (Streamable HTTP at /mcp, or SSE at /sse), bounded and authenticated.

Layers, outermost first: the connection guard (header/body deadline, connection cap; see
http_conns), the request id (ops.py), Host/Origin, the health probes (/healthz, /readyz) and the
signed webhook route, the bearer token (or the users' auth), the held-stream cap, the session
guard (/mcp only; see http_sessions), then the SDK's app (its 4 MiB body limit included).

With users (a tokens file and/or OIDC, see `auth.py`) the bearer check is the SDK's own
(`mcp.server.auth`): each request acts for the user its token names.

`stateless=True` (`serve --stateless`) serves 2025-* clients without sessions too, so any
instance behind a load balancer answers any request with no sticky sessions. 2026-07-28 clients
are served without sessions either way. Stateless 2025-* clients lose what needs the server to
call them back in a session: elicitation (the approval question before a paid request is
refused instead) and the standalone GET stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from sora_mcp.server.http.conns import ConnectionGuard, raise_open_file_limit
from sora_mcp.server.http.guards import BearerAuth, HostGuard, StreamCap, allowed_hosts
from sora_mcp.server.http.ops import Probes, RequestIds
from sora_mcp.server.http.sessions import SessionGuard

KEEP_ALIVE_S = 8

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from sora_mcp.config import Settings
    from sora_mcp.service import VideoService


@dataclass
class HttpApp:
    app: ASGIApp
    connections: ConnectionGuard
    sessions: SessionGuard | None


def build_http_app(
    mcp: MCPServer,
    settings: Settings,
    *,
    transport: str,
    host: str,
    extra_hosts: tuple[str, ...] = (),
    service: VideoService | None = None,
    stateless: bool = False,
) -> HttpApp:
    from mcp.server.transport_security import TransportSecuritySettings

    # The SDK's Host/Origin check is off: HostGuard below does it for both transports, with --allowed-host.
    sdk_security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    sessions = None
    if transport == "sse":
        app: ASGIApp = mcp.sse_app(host=host, transport_security=sdk_security)
    elif stateless:
        app = mcp.streamable_http_app(host=host, transport_security=sdk_security, stateless_http=True)
    else:
        sdk_app = mcp.streamable_http_app(
            host=host,
            transport_security=sdk_security,
            max_sessions=SessionGuard.sdk_cap(settings.http_max_sessions),
        )
        app = sessions = SessionGuard(sdk_app, max_sessions=settings.http_max_sessions)
    app = StreamCap(app, settings.http_max_streams)
    if settings.has_users:
        from sora_mcp.server.http.auth import user_auth

        app = user_auth(app, settings)
    elif settings.auth_token is not None:
        app = BearerAuth(app, settings.auth_token.get_secret_value())
    if service is not None and settings.webhook_secret is not None:
        from sora_mcp.server.webhooks import Verifier, WebhookRoute  # signed, so outside the bearer check

        verifier = Verifier(
            settings.webhook_secret.get_secret_value(),
            tolerance_s=settings.webhook_tolerance_s,
            remember=service.remember_delivery,  # replays refused on every instance of one ledger
        )
        app = WebhookRoute(app, service, verifier)
    if service is not None:
        from sora_mcp.service.health import failing_parts

        app = Probes(
            app, lambda: failing_parts(service.ctx)
        )  # a prober has no token: outside the bearer check
    app = HostGuard(app, allowed_hosts(host, [*settings.allowed_hosts, *extra_hosts]))
    app = RequestIds(app)
    connections = ConnectionGuard(
        header_timeout_s=settings.http_header_timeout_s, max_connections=settings.http_max_connections
    )
    return HttpApp(connections.asgi(app), connections, sessions)


async def serve_http(
    mcp: MCPServer,
    settings: Settings,
    *,
    transport: str,
    host: str,
    port: int,
    log_level: str,
    extra_hosts: tuple[str, ...] = (),
    service: VideoService | None = None,
    stateless: bool = False,
) -> None:
    import anyio
    import uvicorn

    raise_open_file_limit()
    built = build_http_app(
        mcp,
        settings,
        transport=transport,
        host=host,
        extra_hosts=extra_hosts,
        service=service,
        stateless=stateless,
    )
    # log_config=None: uvicorn's records go to our rate-limited stderr handler (see log_limit).
    config = uvicorn.Config(
        built.app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        lifespan="on",
        http=built.connections.protocol_class(),
        log_config=None,
        access_log=False,
        # One accepted burst stays within twice the cap (the guard trims it back).
        backlog=settings.http_max_connections,
        # Idle keep-alive connections outlast clients' own expiry (httpx: 5 s), so a client never
        # reuses one the server is closing at that instant ("Server disconnected" on a create);
        # the connection guard still closes them at its header deadline.
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    async with anyio.create_task_group() as tg:
        if built.sessions is not None:
            tg.start_soon(built.sessions.run)
        await uvicorn.Server(config).serve()
        tg.cancel_scope.cancel()

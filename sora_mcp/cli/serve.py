"""`sora-mcp serve`: the MCP server over stdio (default), SSE or Streamable HTTP."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    p.add_argument("--transport", choices=["stdio", "sse", "http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP/SSE bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=run)


def configure_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run(args: argparse.Namespace) -> int:
    from sora_mcp.cli import UsageError
    from sora_mcp.config import Settings

    configure_logging(args.log_level)
    settings = Settings()
    if args.transport != "stdio" and args.host not in LOOPBACK and settings.auth_token is None:
        raise UsageError(
            f"refusing to serve on {args.host}: a non-loopback bind needs a token. "
            "Set SORA_MCP_AUTH_TOKEN (clients send it as 'Authorization: Bearer <token>') or bind 127.0.0.1."
        )
    import anyio

    anyio.run(_serve, settings, args)
    return 0


async def _serve(settings: Any, args: argparse.Namespace) -> None:
    from sora_mcp.server import build_server
    from sora_mcp.service import VideoService

    async with VideoService(settings) as service:
        mcp = build_server(service)
        if args.transport == "stdio":
            from sora_mcp.cli.stdio import serve_stdio

            await serve_stdio(mcp)
            return
        from sora_mcp.cli.http import serve_http

        await serve_http(mcp, settings, transport=args.transport, host=args.host, port=args.port,
                         log_level=args.log_level, service=service)

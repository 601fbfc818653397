"""`sora-mcp serve`: the MCP server over stdio (default), SSE or Streamable HTTP."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    p.add_argument("--transport", choices=["stdio", "sse", "http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP/SSE bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        dest="allowed_hosts",
        help="another Host name clients may use (repeatable; loopback names are always allowed, "
        "the machine's names too when binding 0.0.0.0 or ::)",
    )
    p.add_argument(
        "--tokens-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="HTTP users: a TOML file of token hashes (sora-mcp users add; or SORA_MCP_TOKENS_FILE)",
    )
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("SORA_MCP_LOG_FORMAT", "text").strip().lower() or "text",
        help="stderr log lines as text, or one JSON object per line with the request id "
        "(default: SORA_MCP_LOG_FORMAT, else text)",
    )
    p.add_argument(
        "--stateless",
        action="store_true",
        help="HTTP only: serve 2025-* clients without sessions too, so any instance behind a load "
        "balancer answers any request (2026-07-28 clients need no sessions anyway). Those clients then "
        "lose elicitation: a paid request that needs approval is refused instead of asked about",
    )
    p.set_defaults(func=run)


def configure_logging(level: str, log_format: str = "text") -> None:
    from sora_mcp.server.http.log_limit import install

    install(level, log_format)


def check_http_auth(settings: Any, host: str) -> None:
    """A token must be long enough to resist guessing; a non-loopback bind must have one."""
    from sora_mcp.cli.usage import UsageError
    from sora_mcp.server.http.guards import MAKE_TOKEN, MIN_TOKEN_CHARS

    token = settings.auth_token.get_secret_value() if settings.auth_token is not None else None
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        what = "empty" if not token else f"{len(token)} characters"
        raise UsageError(
            f"SORA_MCP_AUTH_TOKEN is {what}; it needs at least {MIN_TOKEN_CHARS}. "
            f"Make one with: {MAKE_TOKEN}  (or unset it to serve on loopback without a token)."
        )
    if settings.has_users:
        _check_users(settings)
        return
    if host not in LOOPBACK and token is None:
        raise UsageError(
            f"refusing to serve on {host}: a non-loopback bind needs a token. Set SORA_MCP_AUTH_TOKEN "
            f"(make one with: {MAKE_TOKEN}; clients send it as 'Authorization: Bearer <token>') "
            "or bind 127.0.0.1."
        )


def _check_users(settings: Any) -> None:
    """Read the tokens file and the OIDC settings now: a mistake stops the start, with its fix."""
    from sora_mcp.cli.usage import UsageError
    from sora_mcp.errors import ConfigError
    from sora_mcp.server.http.auth import build_verifier

    try:
        build_verifier(settings)
    except ConfigError as exc:
        raise UsageError(f"{exc.message} {exc.fix}") from None


def run(args: argparse.Namespace) -> int:
    from sora_mcp.cli.usage import UsageError
    from sora_mcp.config import Settings

    log_format = getattr(args, "log_format", "text")
    if log_format not in ("text", "json"):
        raise UsageError(f"SORA_MCP_LOG_FORMAT is {log_format[:20]!r}; use text or json.")
    configure_logging(args.log_level, log_format)
    if getattr(args, "stateless", False) and args.transport != "http":
        raise UsageError("--stateless applies to --transport http only (SSE needs a session per client).")
    settings = Settings(**({"tokens_file": args.tokens_file} if args.tokens_file is not None else {}))
    if args.transport != "stdio":
        check_http_auth(settings, args.host)
    import anyio

    anyio.run(_serve, settings, args)
    return 0


async def _serve(settings: Any, args: argparse.Namespace) -> None:
    from sora_mcp.server import build_server
    from sora_mcp.service import VideoService

    async with VideoService(settings) as service:
        mcp = build_server(service)
        if args.transport == "stdio":
            # the SDK's transport diverts fds 0 and 1 while serving: stray output goes to stderr
            await mcp.run_stdio_async()
            return
        from sora_mcp.server.http import serve_http

        await serve_http(
            mcp,
            settings,
            transport=args.transport,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            extra_hosts=tuple(args.allowed_hosts),
            service=service,
            stateless=getattr(args, "stateless", False),
        )

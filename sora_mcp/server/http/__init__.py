"""Serving the MCP server over HTTP (Streamable HTTP and SSE) with its guards: Host/Origin, bearer
tokens, connection and stream caps, session limits, header/body deadlines, rate-limited logs."""

from sora_mcp.server.http.app import build_http_app, serve_http

__all__ = ["build_http_app", "serve_http"]

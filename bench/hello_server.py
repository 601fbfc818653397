"""The floor for cold start and per-call latency: a bare MCPServer hello-world over stdio.

It imports only the MCP SDK and registers one trivial tool, so spawn → `tools/list` answered
measures the interpreter plus the SDK, and a call measures the SDK's own stdio round trip, which
sora-mcp (served on the same transport) cannot go below.

    python bench/hello_server.py                # stdio
    python bench/hello_server.py --http PORT    # Streamable HTTP at http://127.0.0.1:PORT/mcp
"""

import sys

from mcp.server import MCPServer

mcp = MCPServer(name="hello")


@mcp.tool()
def hello(name: str = "world") -> str:
    """Say hello."""
    return f"Hello, {name}!"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--http"]:
        mcp.run("streamable-http", port=int(sys.argv[2]))
    else:
        mcp.run()

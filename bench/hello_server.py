"""The floor for cold start and per-call latency: a bare MCPServer hello-world over stdio.

It imports only the MCP SDK and registers one trivial tool, so spawn → `tools/list` answered
measures the interpreter plus the SDK, which sora-mcp cannot go below.

    python bench/hello_server.py            # the SDK's stdio transport
    python bench/hello_server.py --pipes    # sora-mcp's stdio transport (sora_mcp.cli.stdio)

The second is the per-call floor for sora-mcp's own stdio server, which serves on that transport.
"""

import sys

from mcp.server import MCPServer

mcp = MCPServer(name="hello")


@mcp.tool()
def hello(name: str = "world") -> str:
    """Say hello."""
    return f"Hello, {name}!"


if __name__ == "__main__":
    if sys.argv[1:] == ["--pipes"]:
        import anyio

        from sora_mcp.cli.stdio import serve_stdio

        anyio.run(serve_stdio, mcp)
    else:
        mcp.run()

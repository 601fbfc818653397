"""The floor for cold start and per-call latency: a bare MCPServer hello-world over stdio.

It imports only the MCP SDK and registers one trivial tool, so spawn → `tools/list` answered
measures the interpreter plus the SDK, which sora-mcp cannot go below.

    python bench/hello_server.py
"""

from mcp.server import MCPServer

mcp = MCPServer(name="hello")


@mcp.tool()
def hello(name: str = "world") -> str:
    """Say hello."""
    return f"Hello, {name}!"


if __name__ == "__main__":
    mcp.run()

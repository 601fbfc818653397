"""The in-chat player: an MCP Apps (`io.modelcontextprotocol/ui`) view for generated clips.

Hosts that negotiated MCP Apps render `ui://sora-mcp/player.html` next to the results of the
tools linked to it (`player_link()`); the view pulls its data through app-only tools
(`visibility: ["app"]`) that hosts keep away from the model. Clients without Apps see the same
tools and results as before: the link is one `_meta` key, and the app-only tools are left out
of their `tools/list` (`hide_app_tools`).
"""

from sora_mcp.server.apps.player import PLAYER_URI, build_apps, hide_app_tools, player_link

__all__ = ["PLAYER_URI", "build_apps", "hide_app_tools", "player_link"]

"""The embedded engine: a local server speaking OpenAI's `/v1/videos` API that renders procedural previews.

Honest by design: clips are deterministic procedural animatics (title cards, captions, camera
moves, palette from the prompt), not generative video. The server side imports only
`EngineServer` and `EngineConfig` from here.
"""

from sora_mcp.engine.app import create_app
from sora_mcp.engine.config import EngineConfig
from sora_mcp.engine.runner import EngineServer, check_can_serve, serve_forever

__all__ = ["EngineConfig", "EngineServer", "check_can_serve", "create_app", "serve_forever"]

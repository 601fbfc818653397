"""sora-mcp: generate, remix, track, download and delete AI videos on any `/v1/videos` backend."""

__version__ = "0.1.0"

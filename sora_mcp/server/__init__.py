"""The MCP front end: the server (`build`), its tools (`tools`: thin bodies), their parameters
(`params`), budget approval (`approval`), the argument check (`check`), the results they return
(`results`, `text`), the one signature helper (`signature`), resources, prompts, the in-chat
player (`apps`), webhooks and the HTTP app (`http`). It calls the service layer and nothing
below it but models, errors and config."""

from sora_mcp.server.build import build_server

__all__ = ["build_server"]

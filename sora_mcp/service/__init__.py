"""The service layer: every operation the MCP tools and the CLI call."""

from sora_mcp.service.core import Approver, VideoService
from sora_mcp.service.requests import CreateRequest, DeriveRequest

__all__ = ["Approver", "CreateRequest", "DeriveRequest", "VideoService"]

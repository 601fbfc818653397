"""The service layer: every operation the MCP tools and the CLI call."""

from sora_mcp.service.budget import Approver
from sora_mcp.service.core import VideoService
from sora_mcp.service.requests import CreateRequest, DeriveRequest

__all__ = ["Approver", "CreateRequest", "DeriveRequest", "VideoService"]

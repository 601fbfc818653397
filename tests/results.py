"""Reading MCP tool results in tests: the structured content of a success, the text of any result."""

from __future__ import annotations

from typing import Any


def text(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    return result.structured_content

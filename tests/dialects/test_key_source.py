"""OpenRouter refusing a key, or asked for what it has no route for, answered by handler functions
in the shape of OpenRouter's published API (openrouter.ai/docs "api-reference/errors":
`{"error": {"code": 401, "message": ...}}`; no DELETE route on /api/v1/videos/{id}).

A refused key's fix names the variable the key really came from: SORA_MCP_API_KEY, the provider's
own OPENROUTER_API_KEY, or the variable a backends-file entry names.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from sora_mcp.backends import Backend
from sora_mcp.backends_file import BackendEntry
from sora_mcp.config import Settings
from sora_mcp.errors import AuthFailed, Unsupported
from tests.backends.mock import mock_backend

pytestmark = pytest.mark.anyio
OPENROUTER = "https://openrouter.ai/api/v1"


class OpenRouterRefusingKeys:
    """Every request refused with OpenRouter's 401 (the requests are recorded)."""

    def __init__(self) -> None:
        self.seen: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        return httpx2.Response(401, json={"error": {"code": 401, "message": "User not found."}})

    @property
    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self)


def settings() -> Settings:
    return Settings(data_dir=Path("unused"), dialect="openrouter")


async def refused_fix(backend: Backend) -> str:
    with pytest.raises(AuthFailed) as info:
        await backend.retrieve("job-1")
    await backend.aclose()
    assert "refused the API key (HTTP 401)" in info.value.message
    return info.value.fix or ""


async def test_a_key_from_openrouter_api_key_is_named_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SORA_MCP_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-wrong")
    provider = OpenRouterRefusingKeys()
    fix = await refused_fix(Backend.from_settings(settings(), http_transport=provider.transport))
    assert "OPENROUTER_API_KEY" in fix and "SORA_MCP_API_KEY" not in fix
    assert provider.seen[0].headers["authorization"] == "Bearer sk-or-wrong"


async def test_a_key_from_sora_mcp_api_key_is_named_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_MCP_API_KEY", "sk-or-wrong")
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-other")
    provider = OpenRouterRefusingKeys()
    fix = await refused_fix(Backend.from_settings(settings(), http_transport=provider.transport))
    assert "SORA_MCP_API_KEY" in fix and "OPENROUTER_API_KEY" not in fix


async def test_a_backends_file_key_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_MCP_API_KEY", "sk-default-key")
    monkeypatch.setenv("CLOUD_KEY", "sk-or-wrong")
    entry = BackendEntry(name="cloud", dialect="openrouter", key_env="CLOUD_KEY")
    provider = OpenRouterRefusingKeys()
    backend = Backend.from_entry(
        Settings(data_dir=Path("unused")),
        base_url=entry.url,
        dialect=entry.dialect,
        api_key=entry.api_key(),
        key_source=entry.key_source,
        http_transport=provider.transport,
    )
    fix = await refused_fix(backend)
    assert "CLOUD_KEY" in fix and "SORA_MCP_API_KEY" not in fix
    assert provider.seen[0].headers["authorization"] == "Bearer sk-or-wrong"  # never the default's key
    keyless = BackendEntry(name="gpu", base_url="http://127.0.0.1:9/v1")
    assert keyless.api_key() is None and "key_env in [backends.gpu]" in keyless.key_source


async def test_delete_is_refused_from_the_record_without_a_request() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(405, json={"error": {"code": 405, "message": "Method Not Allowed"}})

    backend = mock_backend(handler, base_url=OPENROUTER)
    assert backend.dialect == "openrouter"  # the host says it
    with pytest.raises(Unsupported, match=r"This backend \(OpenRouter\) cannot delete videos.*local record"):
        await backend.delete("job-1")
    assert seen == []
    await backend.aclose()

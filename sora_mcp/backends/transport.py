"""The HTTP plumbing a `Backend` has: one openai SDK client over one bounded httpx client.

All HTTP goes through the openai SDK's request machinery (`client.get/post/delete` with
`cast_to=httpx2.Response`), so auth, headers and timeouts are the SDK's, while the raw JSON and
headers are read by the backend: gateways return statuses and fields the SDK's `Video` model does
not know. The SDK never retries (`max_retries=0`): a retried create after a time-out can bill a
second job. Every failure goes through `errors.map_error`.

The httpx transport under the client can be injected (`http_transport=`: an `httpx2.MockTransport`
or `ASGITransport` in tests); it is always wrapped in `limits.BoundedTransport`, so the deadline,
the answer cap and the origin rule hold whatever carries the bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import quote, urlsplit

import httpx2
import openai

from sora_mcp.backends.errors import OPENAI_HOST, map_error
from sora_mcp.backends.limits import CONTENT_EXTENSION, BoundedTransport, EnvProxyTransport
from sora_mcp.errors import BackendError, InvalidInput, SoraError

DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"  # RFC 3986 pchar minus '/', so ids stay one path segment
_NO_BACKEND_ANSWER = (openai.APIError, httpx2.HTTPError)


def segment(video_id: str) -> str:
    if not video_id or video_id in (".", ".."):
        raise InvalidInput(f"{video_id!r} is not a video id", fix="Pass an id returned by create or list.")
    return quote(video_id, safe=_SEGMENT_SAFE)


def read_json(response: httpx2.Response, operation: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise BackendError(
            f"{operation}: the backend answered HTTP {response.status_code} with something that is not JSON",
            fix="Check that SORA_MCP_BASE_URL ends in /v1 and points at a /v1/videos backend.",
        ) from None


def _options(
    headers: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None
) -> openai.RequestOptions:
    options: openai.RequestOptions = {"headers": dict(headers or {}), "security": {"bearer_auth": True}}
    if params:
        options["params"] = {k: v for k, v in params.items() if v is not None}
    return options


class Transport:
    """The backend's HTTP client: requests, error mapping, `video_url` streams, closing."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        timeout_s: float = 60.0,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
        key_source: str | None = None,
        http_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = urlsplit(self.base_url).hostname or ""
        self.is_openai = self.host == OPENAI_HOST
        self.timeout_s = timeout_s
        # How messages name the backend; the backend sets it once its dialect is known.
        self.label = "this backend"
        self._api_key = api_key
        self._key_source = key_source  # the variable the key came from, named when it is refused
        # The SDK's own default client (redirects followed), kept so `video_url` downloads share
        # its connections. Its transport is bounded (limits.py): whole-request deadline, answer
        # cap, and no body or credentials to another origin, on every redirect hop.
        inner = http_transport or EnvProxyTransport(
            httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
        )
        bounded = BoundedTransport(
            inner,
            base_url=self.base_url,
            timeout_s=timeout_s,
            max_answer_bytes=max_answer_bytes,
            secrets=(api_key or "",),
        )
        self.http = openai.DefaultAsyncHttpxClient(
            timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, 10.0)), transport=bounded
        )
        self.sdk = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "sk-no-key",
            max_retries=0,
            timeout=timeout_s,
            http_client=self.http,
        )

    def fail(self, exc: BaseException, operation: str, *, sent: bool = False) -> SoraError:
        return map_error(
            exc,
            operation=operation,
            backend_name=self.label,
            sent=sent,
            secrets=[self._api_key or ""],
            timeout_s=self.timeout_s,
            key_source=self._key_source,
        )

    async def raw(self, method: str, path: str) -> httpx2.Response:
        """GET or DELETE `path` with the key; SDK errors are left to the caller to read."""
        if method == "DELETE":
            return await self.sdk.delete(path, cast_to=httpx2.Response, options=_options())
        return await self.sdk.get(path, cast_to=httpx2.Response, options=_options())

    async def send(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        creates: bool = False,
        stream: bool = False,
        body: Mapping[str, Any] | None = None,
        files: Sequence[tuple[str, Any]] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx2.Response:
        """One request; every failure mapped (`creates`: a lost answer may mean a job exists)."""
        options = _options(headers, params)
        try:
            if method == "GET" and stream:
                # With cast_to=Response the SDK hands back the open response, body unread.
                answer = await self.sdk.get(path, cast_to=httpx2.Response, options=options, stream=True)
                return cast(httpx2.Response, answer)
            if method == "GET":
                return await self.sdk.get(path, cast_to=httpx2.Response, options=options)
            if method == "DELETE":
                return await self.sdk.delete(path, cast_to=httpx2.Response, options=options)
            return await self.sdk.post(path, cast_to=httpx2.Response, body=body, files=files, options=options)
        except _NO_BACKEND_ANSWER as exc:
            raise self.fail(exc, operation, sent=creates) from None

    async def open_url(self, url: str, headers: Mapping[str, str]) -> httpx2.Response:
        """Stream a completion's `video_url`; the key goes only to the backend's own origin."""
        send_headers = dict(headers)
        own = urlsplit(self.base_url)
        there = urlsplit(url)
        if (there.scheme, there.netloc) == (own.scheme, own.netloc) and self._api_key:
            send_headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            response = await self.http.send(
                self.http.build_request(
                    "GET", url, headers=send_headers, extensions={CONTENT_EXTENSION: True}
                ),
                stream=True,
            )
            if response.status_code >= 400:
                await response.aread()
                await response.aclose()
                response.raise_for_status()
            return response
        except httpx2.HTTPError as exc:
            raise self.fail(exc, "download") from None

    async def aclose(self) -> None:
        await self.sdk.close()
        await self.http.aclose()

"""The plumbing under `Backend`: one openai SDK client, dialect detection, error mapping.

All HTTP goes through the openai SDK's request machinery (`client.get/post/delete` with
`cast_to=httpx2.Response`), so auth, headers and timeouts are the SDK's, while the raw JSON and
headers are read here: gateways return statuses and fields the SDK's `Video` model does not
know. The SDK never retries (`max_retries=0`): a retried create after a time-out can bill a
second job. Every failure goes through `errors.map_error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import anyio
import httpx2
import openai

from sora_mcp.backends.dialects import (
    DIALECTS,
    HOSTS,
    Dialect,
    detect_dialect,
    dialect_from_answer,
    litellm_provider_from_id,
    litellm_sibling_id,
    normalize_video,
)
from sora_mcp.backends.errors import OPENAI_HOST, host_of, map_error
from sora_mcp.backends.limits import CONTENT_EXTENSION, BoundedTransport, EnvProxyTransport
from sora_mcp.errors import BackendError, InvalidInput, SoraError
from sora_mcp.models import RemoteVideo

AUTH = {"bearer_auth": True}
DEFAULT_MAX_ANSWER_BYTES = 16 * 1024 * 1024
_SEGMENT_SAFE = "!$&'()*+,;=:@-._~"  # RFC 3986 pchar minus '/', so ids stay one path segment


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


class Transport:
    """State and request plumbing shared by every `Backend` operation."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        dialect: str = "auto",
        timeout_s: float = 60.0,
        litellm_provider: str | None = None,
        max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s
        # The SDK's own default client (redirects followed), kept so `video_url` downloads share
        # its connections. Its transport is bounded (limits.py): whole-request deadline, answer
        # cap, and no body or credentials to another origin, on every redirect hop.
        bounded = BoundedTransport(
            EnvProxyTransport(httpx2.Limits(max_connections=1000, max_keepalive_connections=100)),
            base_url=self.base_url,
            timeout_s=timeout_s,
            max_answer_bytes=max_answer_bytes,
            secrets=(api_key or "",),
        )
        self._http = openai.DefaultAsyncHttpxClient(
            timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, 10.0)), transport=bounded
        )
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or "sk-no-key",
            max_retries=0,
            timeout=timeout_s,
            http_client=self._http,
        )
        self.is_openai = (urlsplit(self.base_url).hostname or "") == OPENAI_HOST
        self._dialect: Dialect | None = DIALECTS.get(dialect) if dialect != "auto" else None
        if self._dialect is None and self.is_openai:
            self._dialect = DIALECTS["openai"]
        if self._dialect is None and (urlsplit(self.base_url).hostname or "") in HOSTS:
            self._dialect = DIALECTS[
                HOSTS[urlsplit(self.base_url).hostname or ""]
            ]  # hosted: the host says it
        self._litellm_provider = litellm_provider
        self._video_urls: dict[str, str] = {}
        self._size_labels: dict[str, dict[str, tuple[str, str]]] = {}  # model → size → provider's labels
        self._seen_provider: str | None = None  # LiteLLM provider read back from an id it issued
        self._detect_lock = anyio.Lock()

    @property
    def dialect(self) -> str:
        """The dialect in use (`auto` only until the first request has detected it)."""
        return self._dialect.name if self._dialect else "auto"

    name = dialect

    @property
    def known_dialect(self) -> Dialect | None:
        """The dialect when it is known without a request (set, or read from the host)."""
        return self._dialect

    # -- plumbing ---------------------------------------------------------------------------

    def _fail(self, exc: BaseException, operation: str, *, sent: bool = False) -> SoraError:
        label = self._dialect.label if self._dialect else "this backend"
        return map_error(
            exc,
            operation=operation,
            backend_name=label,
            sent=sent,
            secrets=[self._api_key or ""],
            timeout_s=self._timeout_s,
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        creates: bool = False,
        stream: bool = False,
        body: Mapping[str, Any] | None = None,
        files: list[tuple[str, Any]] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx2.Response:
        options: dict[str, Any] = {"headers": dict(headers or {}), "security": AUTH}
        if params:
            options["params"] = {k: v for k, v in params.items() if v is not None}
        try:
            if method == "GET":
                return await self._client.get(path, cast_to=httpx2.Response, options=options, stream=stream)
            if method == "DELETE":
                return await self._client.delete(path, cast_to=httpx2.Response, options=options)
            return await self._client.post(
                path, cast_to=httpx2.Response, body=body, files=files, options=options
            )
        except (openai.APIError, httpx2.HTTPError) as exc:
            raise self._fail(exc, operation, sent=creates) from None

    async def _resolve(self) -> Dialect:
        """The dialect, detected once from `GET /models` when set to auto."""
        if self._dialect is not None:
            return self._dialect
        async with self._detect_lock:
            if self._dialect is None:
                try:
                    response = await self._client.get(
                        "/models", cast_to=httpx2.Response, options={"security": AUTH}
                    )
                    try:
                        body = response.json()
                    except ValueError:
                        body = None
                    name = detect_dialect(
                        host=host_of(self.base_url), models_body=body, headers=dict(response.headers)
                    )
                except openai.APIStatusError as exc:
                    name = detect_dialect(host=host_of(self.base_url), headers=dict(exc.response.headers))
                except (openai.APIError, httpx2.HTTPError):
                    return DIALECTS["generic"]  # unreachable now; the real call will say so
                self._dialect = DIALECTS[name]
        return self._dialect

    def _video(
        self, response: httpx2.Response, operation: str, fallback_id: str | None = None
    ) -> RemoteVideo:
        data = read_json(response, operation)
        if not isinstance(data, dict):
            raise BackendError(
                f"{operation}: the backend answered with a {type(data).__name__}, not a video object"
            )
        poll = response.headers.get("openai-poll-after-ms")
        video = normalize_video(
            data, poll_after_ms=int(poll) if poll and poll.isdigit() else None, dialect=self._dialect
        )
        if not video.id and fallback_id:
            video = video.model_copy(update={"id": fallback_id})
        if not video.id:
            raise BackendError(f"{operation}: the backend's answer has no video id")
        if video.video_url:
            self._video_urls[video.id] = video.video_url
        if self._dialect is DIALECTS["generic"] and (
            guess := dialect_from_answer(video.id, response.headers)
        ):
            self._dialect = DIALECTS[guess]  # LiteLLM's /models looks like OpenAI's; its job answers do not
        if self._dialect is DIALECTS["litellm"]:
            self._seen_provider = litellm_provider_from_id(video.id) or self._seen_provider
            source = video.remixed_from_video_id
            if source and (sibling := litellm_sibling_id(video.id, source)):
                # LiteLLM passes the provider's raw source id through; give back the one it accepts.
                video = video.model_copy(update={"remixed_from_video_id": sibling})
        return video

    async def _open_url(self, url: str, headers: Mapping[str, str]) -> httpx2.Response:
        """Stream a completion's `video_url`; the key goes only to the backend's own origin."""
        send_headers = dict(headers)
        own = urlsplit(self.base_url)
        there = urlsplit(url)
        if (there.scheme, there.netloc) == (own.scheme, own.netloc) and self._api_key:
            send_headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            response = await self._http.send(
                self._http.build_request(
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
            raise self._fail(exc, "download") from None

    async def aclose(self) -> None:
        await self._client.close()
        await self._http.aclose()

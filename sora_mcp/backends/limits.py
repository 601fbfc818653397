"""Transport-level bounds on every backend call: answer size, whole-request deadline, origin.

`BoundedTransport` wraps the HTTP transport under the openai SDK's client, so every request
(the SDK's and our own `video_url` downloads, each redirect hop included) passes through it:

- **Deadline**: headers and the whole JSON body must arrive within `timeout_s` of the request
  starting (httpx's own timeout is per read: a backend dripping a byte every few seconds never
  trips it). A download body is judged by progress instead: at least `PROGRESS_BYTES` every
  `timeout_s`, because a 2 GB file may rightly take longer than one request's deadline.
- **Size**: answers other than a download's body are read at most `max_answer_bytes` far; past
  that the read stops with `AnswerTooLarge` (nothing more is held). Compressed answers are
  decoded here so the cap counts decoded bytes (a gzip bomb stops at the cap too); requests ask
  for `identity` anyway. Download bodies are capped where they are written (`library.download`).
- **Origin**: a request to another origin than the backend's (a redirect, a `video_url` on a
  CDN) carries no credentials and no body: such a GET is sent without any header holding the
  key, anything else is refused with `RedirectRefused` before a byte leaves.
"""

from __future__ import annotations

import time
import urllib.request
import zlib
from collections.abc import AsyncIterator

import anyio
import httpx2

# A download must move at least this much per deadline window (1 MiB per 60 s = 17 KiB/s).
PROGRESS_BYTES = 1 << 20
# Marks a request whose 2xx body is a file download (our own `video_url` requests set it).
CONTENT_EXTENSION = "sora_mcp_content"


class AnswerTooLarge(httpx2.TransportError):
    """The backend's answer went past the size cap; reading stopped there."""

    def __init__(self, limit: int, *, request: httpx2.Request | None = None) -> None:
        super().__init__(f"the answer is larger than {limit} bytes", request=request)
        self.limit = limit


class RedirectRefused(httpx2.TransportError):
    """A request with a body would have gone to another origin (a redirect away from the backend)."""

    def __init__(self, target: str, *, request: httpx2.Request | None = None) -> None:
        super().__init__(f"refused to send a request body to another origin ({target})", request=request)
        self.target = target


def origin(url: httpx2.URL | str) -> tuple[str, str, int | None]:
    u = httpx2.URL(str(url))
    port = u.port or {"http": 80, "https": 443}.get(u.scheme)
    return (u.scheme, u.host, port)


def _is_content(request: httpx2.Request) -> bool:
    return bool(request.extensions.get(CONTENT_EXTENSION)) or request.url.path.rstrip("/").endswith(
        "/content"
    )


class _BoundedStream(httpx2.AsyncByteStream):
    """The response body, read under the request's deadline (or progress rule) and size cap."""

    def __init__(
        self,
        inner: httpx2.AsyncByteStream,
        request: httpx2.Request,
        *,
        deadline: float | None,
        timeout_s: float,
        max_bytes: int | None,
        decode: bool = False,
    ) -> None:
        self._inner, self._request = inner, request
        self._deadline, self._timeout_s, self._max_bytes = deadline, timeout_s, max_bytes
        # wbits 47: zlib or gzip header, detected; decoded output is bounded per step below.
        self._decoder = zlib.decompressobj(47) if decode else None

    def _decoded(self, chunk: bytes) -> bytes:
        assert self._decoder is not None and self._max_bytes is not None
        try:
            out = self._decoder.decompress(chunk, self._max_bytes + 1)
        except zlib.error:
            raise httpx2.DecodingError("the compressed answer is damaged", request=self._request) from None
        if self._decoder.unconsumed_tail:  # more than the cap came out of this one chunk
            raise AnswerTooLarge(self._max_bytes, request=self._request)
        return out

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        window_start, window_bytes = time.monotonic(), 0
        source = self._inner.__aiter__()
        while True:
            now = time.monotonic()
            if self._deadline is not None:
                left = self._deadline - now
                why = "the whole answer did not arrive within the request deadline"
            else:
                left = window_start + self._timeout_s - now
                why = f"the download moved less than {PROGRESS_BYTES} bytes in {self._timeout_s:g} s"
            try:
                with anyio.fail_after(max(left, 0.0)):
                    chunk = await source.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise httpx2.ReadTimeout(why, request=self._request) from None
            if self._decoder is not None:
                chunk = self._decoded(chunk)
            received += len(chunk)
            if self._max_bytes is not None and received > self._max_bytes:
                raise AnswerTooLarge(self._max_bytes, request=self._request)
            window_bytes += len(chunk)
            if window_bytes >= PROGRESS_BYTES:
                window_start, window_bytes = time.monotonic(), 0
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class BoundedTransport(httpx2.AsyncBaseTransport):
    """Wraps `inner` with the deadline, answer cap and origin rule described above."""

    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        *,
        base_url: str,
        timeout_s: float,
        max_answer_bytes: int,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._inner = inner
        self._origin = origin(base_url)
        self._timeout_s = timeout_s
        self._max_answer_bytes = max_answer_bytes
        self._secrets = tuple(s for s in secrets if s)

    def _confine(self, request: httpx2.Request) -> None:
        if origin(request.url) == self._origin:
            return
        has_body = (
            request.method not in ("GET", "HEAD") or int(request.headers.get("content-length") or 0) > 0
        )
        if has_body or "transfer-encoding" in request.headers:
            raise RedirectRefused(f"{request.url.host}:{origin(request.url)[2]}", request=request)
        for name, value in list(request.headers.items()):
            if name.lower() == "authorization" or any(s in value for s in self._secrets):
                del request.headers[name]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self._confine(request)
        request.headers["Accept-Encoding"] = "identity"
        started = time.monotonic()
        try:
            with anyio.fail_after(self._timeout_s):
                response = await self._inner.handle_async_request(request)
        except TimeoutError:
            raise httpx2.ReadTimeout("no answer within the request deadline", request=request) from None
        if response.is_stream_consumed:
            # An injected transport (MockTransport, a test double) may answer with its body already
            # read: answer afresh from its raw bytes, so the cap and decoding below still apply.
            response = httpx2.Response(
                response.status_code,
                headers=response.headers,
                stream=response.stream,
                request=request,
                extensions=response.extensions,
            )
        content = _is_content(request) and 200 <= response.status_code < 300
        encoding = response.headers.get("content-encoding", "").strip().lower()
        decode = not content and encoding in ("gzip", "deflate", "x-gzip")
        if decode:
            del response.headers["content-encoding"]  # decoded below, within the cap
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        response.stream = _BoundedStream(
            response.stream,
            request,
            deadline=None if content else started + self._timeout_s,
            timeout_s=self._timeout_s,
            max_bytes=None if content else self._max_answer_bytes,
            decode=decode,
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class EnvProxyTransport(httpx2.AsyncBaseTransport):
    """Direct connections, or the proxy the environment names (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY).

    An httpx client given its own transport stops reading proxy variables, so this transport
    (under `BoundedTransport`) reads them the way urllib does, keeping proxied setups working.
    """

    def __init__(self, limits: httpx2.Limits) -> None:
        self._limits = limits
        self._proxies = {k: v for k, v in urllib.request.getproxies().items() if k != "no" and "://" in v}
        self._direct = httpx2.AsyncHTTPTransport(limits=limits)
        self._via: dict[str, httpx2.AsyncHTTPTransport] = {}

    def _route(self, url: httpx2.URL) -> httpx2.AsyncBaseTransport:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or urllib.request.proxy_bypass(url.host):
            return self._direct
        if proxy not in self._via:
            self._via[proxy] = httpx2.AsyncHTTPTransport(limits=self._limits, proxy=proxy)
        return self._via[proxy]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._route(request.url).handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for transport in self._via.values():
            await transport.aclose()

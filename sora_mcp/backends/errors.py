"""The one place where SDK and HTTP failures become `sora_mcp.errors` exceptions.

`map_error` turns whatever the openai SDK (or the shared httpx2 client, for `video_url`
downloads) raised into the most specific `SoraError`, with a message that says what happened
and a fix that says what to do. Backend messages are cut to ~300 characters, stripped of
tracebacks, and scrubbed of the API key (the key is read back from the failed request itself,
so no caller can forget to pass it).
"""

from __future__ import annotations

import base64
import email.utils
import json
import re
import time
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus, urlsplit

import httpx2
import openai

from sora_mcp.backends.limits import AnswerTooLarge, RedirectRefused
from sora_mcp.errors import (
    AuthFailed,
    BackendError,
    BackendUnavailable,
    InvalidInput,
    NotFound,
    NotReady,
    OutcomeUnknown,
    RateLimited,
    SoraError,
)

OPENAI_HOST = "api.openai.com"
MAX_MESSAGE = 300

SUNSET_MESSAGE = (
    "OpenAI shut down its Videos API (Sora) on 2026-09-24, so api.openai.com no longer serves /v1/videos"
)
SUNSET_FIX = (
    "Point SORA_MCP_BASE_URL at another /v1/videos backend (vLLM-Omni, SGLang or a LiteLLM proxy), "
    "or unset it to use the embedded preview engine."
)

# Failures that happen before a byte of the request left: nothing can have been created.
_NOT_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


def host_of(url: str | httpx2.URL | None) -> str:
    """`host:port` of a URL (never its path, query or credentials)."""
    if url is None:
        return "the backend"
    parts = urlsplit(str(url))
    host = parts.hostname or "the backend"
    port = parts.port or (443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None)
    return f"{host}:{port}" if port else host


def _b64_cores(secret: bytes) -> set[str]:
    """The parts of `secret`'s base64 that do not depend on the bytes around it, per alignment."""
    cores = set()
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * pad + secret).decode()
            whole = (pad + len(secret)) // 3 * 4  # characters made only of our own bytes' groups
            core = text[4 if pad else 0 : whole]
            if len(core) >= 8:
                cores.add(core)
    return cores


@lru_cache(maxsize=32)
def secret_pattern(secret: str) -> re.Pattern[str] | None:
    """One case-insensitive pattern for `secret` and its encoded forms: URL-encoded (both
    styles), JSON-escaped (`\\/`, `\\u00xx`), base64 (standard and URL-safe, at any offset
    inside a longer base64 text, so `Basic` credentials too) and hex."""
    if not secret or len(secret) < 4:
        return None
    raw = secret.encode()
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        secret.replace("/", "\\/"),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=True)[1:-1].replace("/", "\\/"),
        "".join(f"\\u{ord(c):04x}" for c in secret),
        raw.hex(),
    }
    forms |= _b64_cores(raw)
    ordered = sorted((f for f in forms if f), key=len, reverse=True)
    return re.compile("|".join(re.escape(f) for f in ordered), re.IGNORECASE)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove secrets (in any common encoding), tracebacks and excess length from backend text."""
    for secret in secrets:
        pattern = secret_pattern(secret)
        if pattern is not None:
            text = pattern.sub("***", text)
    text = re.sub(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+", "Bearer ***", text)
    cut = text.find("Traceback (most recent call last)")
    if cut >= 0:
        text = text[:cut].rstrip() or "the backend reported an internal error"
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1].rstrip() + "…"


def backend_message(response: httpx2.Response | None) -> str:
    """The human part of an error body in any of the shapes backends use."""
    if response is None:
        return ""
    try:
        body = response.json()
    except (ValueError, httpx2.ResponseNotRead, UnicodeDecodeError):
        try:
            return response.text.strip()
        except (httpx2.ResponseNotRead, UnicodeDecodeError):
            return ""
    if isinstance(body, dict):
        for key in ("error", "detail", "message", "msg"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail") or json.dumps(value)
            if isinstance(value, list):  # FastAPI validation errors
                value = "; ".join(
                    f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg', '')}".strip(": ")
                    if isinstance(item, dict)
                    else str(item)
                    for item in value
                )
            if value:
                return str(value)
    return json.dumps(body)[:MAX_MESSAGE]


def retry_after_seconds(headers: httpx2.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (delta or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _sent_secrets(request: httpx2.Request | None, extra: Iterable[str]) -> list[str]:
    secrets = [s for s in extra if s]
    if request is not None:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            secrets.append(auth[7:].strip())
    return secrets


def _from_status(
    response: httpx2.Response,
    *,
    operation: str,
    backend_name: str,
    secrets: list[str],
    key_source: str | None = None,
) -> SoraError:
    status = response.status_code
    host = host_of(response.request.url if response.request else None)
    detail = scrub(backend_message(response), secrets)
    said = f": {detail}" if detail else ""
    on_openai = host.split(":")[0] == OPENAI_HOST
    if status in (401, 403):
        return AuthFailed(
            f"{operation} failed: the backend ({backend_name} at {host}) refused the API key (HTTP {status}){said}",
            fix=f"Set {key_source} to a key this backend accepts."
            if key_source
            else "Set SORA_MCP_API_KEY (or OPENAI_API_KEY) to a key this backend accepts.",
        )
    if on_openai and status in (404, 410):
        return NotFound(f"{SUNSET_MESSAGE} ({operation} got HTTP {status})", fix=SUNSET_FIX)
    if status in (404, 410):
        return NotFound(
            f"{operation} failed: the backend ({backend_name}) does not know it (HTTP {status}){said}",
            fix="Check the video id with the list tool; jobs expire on the backend after a while.",
        )
    if status == 409:
        return NotReady(
            f"{operation} failed: the video is not ready yet (HTTP 409){said}",
            fix="Wait until its status is completed, then try again.",
        )
    if status == 429:
        wait = retry_after_seconds(response.headers)
        when = f"after {wait:g} s" if wait is not None else "in a little while"
        return RateLimited(
            f"{operation} was rate-limited by the backend ({backend_name}, HTTP 429){said}",
            fix=f"Try again {when}.",
            retry_after=wait,
        )
    if status in (400, 413, 415, 422):
        return InvalidInput(
            f"The backend ({backend_name}) rejected the {operation} request (HTTP {status}){said}",
            fix="Change the arguments the message names and try again.",
        )
    if status >= 500:
        return BackendError(
            f"backend error {status} during {operation} ({backend_name} at {host}){said}",
            fix="This is on the backend's side; try again in a moment.",
        )
    return BackendError(
        f"{operation} failed: the backend ({backend_name}) answered HTTP {status}{said}",
        fix="Check SORA_MCP_BASE_URL and SORA_MCP_DIALECT match this backend.",
    )


def map_error(
    exc: BaseException,
    *,
    operation: str,
    backend_name: str,
    sent: bool,
    secrets: Iterable[str] = (),
    timeout_s: float | None = None,
    key_source: str | None = None,
) -> SoraError:
    """Translate an SDK/HTTP exception into the most specific `SoraError`.

    `key_source` names where the key came from (the variable a refused key is fixed in).
    `sent` is True for POSTs that may create a job (create, remix, extend, edit): a time-out
    or a dropped connection after such a request left means the job may exist, which is
    `OutcomeUnknown`, never something to retry blindly.
    """
    if isinstance(exc, SoraError):
        return exc
    if (bounded := _bounds_error(exc, operation=operation, sent=sent)) is not None:
        return bounded
    request: httpx2.Request | None = getattr(exc, "request", None)
    if isinstance(exc, httpx2.HTTPStatusError):
        response: httpx2.Response | None = exc.response
    else:
        response = getattr(exc, "response", None)
    try:
        request = request or (response.request if response is not None else None)
    except RuntimeError:  # httpx raises when a Response was built without a request
        request = None
    secrets_list = _sent_secrets(request, secrets)
    if isinstance(exc, (openai.APIStatusError, httpx2.HTTPStatusError)) and response is not None:
        return _from_status(
            response,
            operation=operation,
            backend_name=backend_name,
            secrets=secrets_list,
            key_source=key_source,
        )

    host = host_of(request.url if request is not None else None)
    cause = exc.__cause__ or exc.__context__
    never_left = isinstance(exc, _NOT_SENT) or isinstance(cause, _NOT_SENT)
    timed_out = isinstance(exc, (openai.APITimeoutError, httpx2.TimeoutException, TimeoutError))
    timed_out = timed_out or _cause(exc, TimeoutError) is not None
    if (
        isinstance(exc, (openai.APIConnectionError, httpx2.TransportError, TimeoutError))
        and sent
        and not never_left
    ):
        what = "no answer came back in time" if timed_out else "the connection dropped before the answer"
        return OutcomeUnknown(
            f"{operation} was sent to {host} but {what}; the backend may have created the job",
            fix="Do not resend it: list recent videos (or check the job ledger) to find the job first.",
        )
    if timed_out:
        limit = f" within {timeout_s:g} s" if timeout_s else ""
        return BackendUnavailable(
            f"The backend at {host} did not answer {operation}{limit}",
            fix="Check that it is running and not overloaded, or raise SORA_MCP_REQUEST_TIMEOUT_S.",
        )
    if isinstance(exc, (openai.APIConnectionError, httpx2.TransportError)):
        return BackendUnavailable(
            f"Could not reach the backend at {host} for {operation}",
            fix="Check that it is running and that SORA_MCP_BASE_URL points at it.",
        )
    return BackendError(
        f"{operation} failed with an unexpected {type(exc).__name__} from the backend client",
        fix="Try again; if it keeps happening, report it with the backend's name and version.",
    )


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """`exc` or the first exception in its cause chain that is a `kind` (the SDK wraps ours)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _bounds_error(exc: BaseException, *, operation: str, sent: bool) -> SoraError | None:
    """The limits of `limits.BoundedTransport` (answer cap, foreign redirect) said plainly."""
    too_big = _cause(exc, AnswerTooLarge)
    if isinstance(too_big, AnswerTooLarge):
        said = (
            f"{operation}: the backend's answer was larger than {too_big.limit / 1048576:g} MB, "
            "so sora-mcp stopped reading it"
        )
        if sent:
            return OutcomeUnknown(
                f"{said}; the backend may have created the job",
                fix="Do not resend it: list recent videos to find the job first, and check "
                "that SORA_MCP_BASE_URL points at a /v1/videos backend.",
            )
        return BackendError(
            said,
            fix="Check that SORA_MCP_BASE_URL points at a /v1/videos backend; raise "
            "SORA_MCP_MAX_ANSWER_MB only if its answers really are this large.",
        )
    refused = _cause(exc, RedirectRefused)
    if isinstance(refused, RedirectRefused):
        return BackendError(
            f"{operation}: the backend redirected the request to another origin ({refused.target}); sora-mcp "
            "sends prompts, files and keys only to the configured backend",
            fix="Point SORA_MCP_BASE_URL at the backend's final address.",
        )
    return None

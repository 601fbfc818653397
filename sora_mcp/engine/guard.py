"""The engine's front door: Host and Origin, the key, POST content types, and the body size cap.

The engine listens on loopback inside the MCP server's process, so the checks are those of the
MCP HTTP transport: a Host header naming 127.0.0.1, localhost or [::1] (any port) or a name the
owner allowed (DNS rebinding), no foreign Origin (a web page's cross-site request), and
`Authorization: Bearer <key>` when the engine has one. POSTs must be JSON or multipart, which
kills the text/plain "simple request" a page can send without a preflight. Bodies are counted as
they arrive and refused past `MAX_BODY_BYTES`; nothing is buffered to find out. No CORS headers
are ever sent. Every refusal is OpenAI's error envelope with the fix in its message.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope

from sora_mcp.engine.errors import ApiError, error_response
from sora_mcp.engine.parsing import MAX_IMAGE_BYTES

LOOPBACK_NAMES: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
POST_TYPES: tuple[str, ...] = ("application/json", "multipart/form-data")
# The largest body a valid request needs: the biggest reference image as a base64 data: URL
# (4/3 of its bytes) plus 1 MiB for the prompt (32,000 characters, JSON-escaped) and the rest.
MAX_BODY_BYTES = MAX_IMAGE_BYTES * 4 // 3 + 1024 * 1024


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def split_host(value: str) -> tuple[str, str | None] | None:
    """`(name, port or None)` of a Host value or allow-list entry (`[v6]:p`, `name:p`, bare v6).

    None when malformed (an empty name, a port that is not digits, a bracket left open).
    """
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :] if end > 0 else "?"
        if rest and not rest.startswith(":"):
            return None
        name, port = value[1:end], (rest[1:] if rest else None)
    elif value.count(":") > 1:  # a bare IPv6 address (allow-list entries only; Host brackets them)
        name, port = value, None
    else:
        name, sep, raw = value.partition(":")
        port = raw if sep else None
    if not name or (port is not None and not (port.isascii() and port.isdigit())):
        return None
    return name, port


class HostRules:
    """Which names (and ports) may appear in Host and Origin."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        entries = [split_host(entry) for entry in (*LOOPBACK_NAMES, *extra)]
        self._rules = [entry for entry in entries if entry is not None]
        self.shown = ", ".join(f"[{n}]" if ":" in n else n for n, _ in self._rules)

    def allows(self, name: str, port: str | None) -> bool:
        return any(name == rule and (want is None or want == port) for rule, want in self._rules)

    def host_refusal(self, scope: Scope) -> JSONResponse | None:
        value = _header(scope, b"host")
        parsed = split_host(value) if value else None
        if parsed is not None and self.allows(*parsed):
            return None
        shown = "none" if not value else repr(value[:100])
        return error_response(
            421,
            f"This engine answers only to the host names {self.shown} (Host header: {shown}). "
            "Call it by one of those names, or start it with --allowed-host NAME.",
            code="host_not_allowed",
        )

    def origin_refusal(self, scope: Scope) -> JSONResponse | None:
        origin = _header(scope, b"origin")
        if origin is None:
            return None  # not a browser's cross-origin request
        try:
            parts = urlsplit(origin.strip())
            port = parts.port
        except ValueError:
            parts, port = None, None
        if (
            parts is not None
            and parts.scheme in ("http", "https")
            and parts.hostname
            and self.allows(parts.hostname.lower(), None if port is None else str(port))
        ):
            return None
        return error_response(
            403,
            f"Requests from the web origin {origin[:100]!r} are refused: this engine serves local clients "
            f"only (allowed names: {self.shown}). Call it without an Origin header, from a program.",
            code="origin_not_allowed",
        )


def auth_refusal(scope: Scope, expected: str | None) -> JSONResponse | None:
    """401 unless the request carries the engine's key (every path, when the engine has one)."""
    if not expected:
        return None
    header = _header(scope, b"authorization") or ""
    scheme, _, token = header.partition(" ")
    if not header:
        message = (
            "You didn't provide an API key. This engine was started with one: "
            "send it as 'Authorization: Bearer <key>'."
        )
    elif scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        message = (
            "Incorrect API key provided. Use the key this engine was started with "
            "(--api-key or SORA_ENGINE_API_KEY)."
        )
    else:
        return None
    return error_response(
        401, message, code="invalid_api_key", headers={"WWW-Authenticate": 'Bearer realm="sora-mcp engine"'}
    )


def content_type_refusal(scope: Scope) -> JSONResponse | None:
    """415 for a POST that is neither JSON nor multipart (a missing Content-Type included)."""
    if scope["method"] != "POST":
        return None
    given = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if given in POST_TYPES:
        return None
    return error_response(
        415,
        f"Unsupported Content-Type {given or 'none'!r} on POST. "
        "Send application/json or multipart/form-data (what the openai SDK sends).",
        param="content-type",
        code="unsupported_content_type",
    )


def _too_large() -> ApiError:
    return ApiError(
        413,
        f"The request body is larger than this engine's limit of {MAX_BODY_BYTES} bytes "
        f"({MAX_BODY_BYTES / 2**20:.1f} MiB: a 20 MB reference image as base64 plus the other fields). "
        "Send a smaller input_reference image.",
        code="request_too_large",
    )


def size_refusal(scope: Scope) -> JSONResponse | None:
    """413 at once when the declared Content-Length is over the cap (nothing of the body is read)."""
    declared = _header(scope, b"content-length")
    digits = declared.strip() if declared is not None else ""
    if digits.isascii() and digits.isdigit() and (len(digits) > 18 or int(digits) > MAX_BODY_BYTES):
        return _too_large().response()
    return None


def capped(receive: Receive) -> Receive:
    """`receive` that counts body bytes as they arrive and raises a 413 `ApiError` past the cap.

    The handler reading the body gets the error, the app answers 413, and the server drops the
    rest of the body with the connection: at most one chunk past the cap is ever held.
    """
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > MAX_BODY_BYTES:
                raise _too_large()
        return message

    return limited

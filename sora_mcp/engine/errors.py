"""OpenAI's error envelope for every refusal the engine makes.

`ApiError` is raised anywhere in a handler and turned into
`{"error": {"message", "type", "param", "code"}}` with the right status by the app's
exception handler. Messages name the problem and the fix, and never hold host paths or keys.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse


class ApiError(Exception):
    """A refusal with an HTTP status and OpenAI's error fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return error_response(
            self.status, self.message, param=self.param, code=self.code, type=self.type, headers=self.headers
        )


def error_response(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    type: str = "invalid_request_error",
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def bad_request(message: str, *, param: str | None = None, code: str | None = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def not_found(video_id: str) -> ApiError:
    shown = "".join(ch if ch.isprintable() else "?" for ch in video_id[:80])
    return ApiError(
        404,
        f"No video with id '{shown}' exists on this engine. "
        "List the known ids with GET /v1/videos, or create a new video.",
        param="video_id",
        code="video_not_found",
    )

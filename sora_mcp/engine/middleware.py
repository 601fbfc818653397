"""Wraps every request: bearer auth, the stats log, and the request-level fault knobs.

Order for `/v1` requests: auth (401) → fixed latency → injected 429 / 5xx → the handler →
`response_delay_ms` (after the work is done, so a client time-out leaves the job created).
`/_engine` admin routes need the key too but are neither logged nor faulted.
"""

from __future__ import annotations

import asyncio
import hmac

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sora_mcp.engine.core import Engine
from sora_mcp.engine.errors import error_response


class EngineMiddleware:
    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        is_api = path.startswith("/v1/") or path == "/v1"
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            if is_api and not recorded:
                recorded = True
                self.engine.stats.record(method, path, status)

        async def send_recorded(message: Message) -> None:
            if message["type"] == "http.response.start":
                # logged before the client can have the answer, so a test that just got its
                # response always finds the request in the stats
                record(message["status"])
                delay = self.engine.config.response_delay_ms
                if is_api and delay:
                    await asyncio.sleep(delay / 1000)
            await send(message)

        try:
            refusal = self._auth_refusal(scope)
            if refusal is None and is_api:
                config = self.engine.config
                if config.latency_ms:
                    await asyncio.sleep(config.latency_ms / 1000)
                fault = self.engine.faults.request_fault()
                refusal = fault.response() if fault is not None else None
            if refusal is not None:
                await refusal(scope, receive, send_recorded)
            else:
                await self.app(scope, receive, send_recorded)
        finally:
            record(500)  # no answer started (an error or a cancelled request): logged as a 500

    def _auth_refusal(self, scope: Scope) -> JSONResponse | None:
        expected = self.engine.config.api_key
        if not expected or not (scope["path"].startswith("/v1") or scope["path"].startswith("/_engine")):
            return None
        header = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
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
            401,
            message,
            code="invalid_api_key",
            headers={"WWW-Authenticate": 'Bearer realm="sora-mcp engine"'},
        )

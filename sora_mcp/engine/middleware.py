"""Wraps every request: the front-door checks (`guard`), the stats log, and the request-level fault knobs.

Order: Host (421) → Origin (403) → key (401) → POST content type (415) → declared size (413) →
for `/v1` requests fixed latency → injected 429 / 5xx → the handler (its body read through the
size cap) → `response_delay_ms` (after the work is done, so a client time-out leaves the job
created). `/_engine` admin routes pass the same checks but are neither logged nor faulted.
"""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sora_mcp.engine import guard
from sora_mcp.engine.core import Engine


class EngineMiddleware:
    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine
        self.hosts = guard.HostRules(engine.config.allowed_hosts)

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
                # response always finds the request in the stats; the delay is read first, so a
                # logged answer is one already being held back (tests lift the delay on that)
                delay = self.engine.config.response_delay_ms
                record(message["status"])
                if is_api and delay:
                    await asyncio.sleep(delay / 1000)
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is None and is_api:
                config = self.engine.config
                if config.latency_ms:
                    await asyncio.sleep(config.latency_ms / 1000)
                fault = self.engine.faults.request_fault()
                refusal = fault.response() if fault is not None else None
            if refusal is not None:
                await refusal(scope, receive, send_recorded)
            else:
                await self.app(scope, guard.capped(receive), send_recorded)
        finally:
            record(500)  # no answer started (an error or a cancelled request): logged as a 500

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        return (
            self.hosts.host_refusal(scope)
            or self.hosts.origin_refusal(scope)
            or guard.auth_refusal(scope, self.engine.config.api_key)
            or guard.content_type_refusal(scope)
            or guard.size_refusal(scope)
        )

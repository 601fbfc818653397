"""Serving the engine: `EngineServer` (embedded, background thread) and `serve_forever` (standalone command).

`EngineServer` binds its socket itself (port 0 → a free port), then runs uvicorn with its own
event loop in a daemon thread; `start()` returns once it is listening. `serve_forever` is what
`sora-mcp engine` calls: blocking, logs to stderr, clean exit on SIGINT/SIGTERM; it refuses to
serve without a key unless told the engine may run open (`insecure_no_auth`).
A specific bind address (not loopback, not a wildcard) is added to the accepted Host names.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from sora_mcp.engine.app import create_app
from sora_mcp.engine.config import EngineConfig
from sora_mcp.engine.core import Engine
from sora_mcp.engine.stats import RequestStats

log = logging.getLogger("sora_mcp.engine")
START_TIMEOUT_S = 15.0
_WILDCARDS = ("0.0.0.0", "::", "")
NO_KEY_MESSAGE = (
    "refusing to serve the engine without an API key: anyone on this machine (or a web page, through "
    "DNS rebinding) could read every prompt and download, create or delete every clip. Make a key with "
    '`python -c "import secrets; print(secrets.token_urlsafe(32))"` and pass it as SORA_ENGINE_API_KEY '
    "(or --api-key; clients send 'Authorization: Bearer <key>'), or pass --insecure-no-auth to run it open."
)


def check_can_serve(config: EngineConfig, *, insecure_no_auth: bool = False) -> None:
    """Raise ValueError(NO_KEY_MESSAGE) for a standalone engine with no key that was not told to run open."""
    if not config.api_key and not insecure_no_auth:
        raise ValueError(NO_KEY_MESSAGE)


def _with_bind_host(config: EngineConfig, host: str) -> EngineConfig:
    """Clients of an engine bound to one specific address call it by that address: accept it as Host."""
    name = host.strip("[]").lower()
    if name in ("127.0.0.1", "localhost", "::1", *_WILDCARDS) or name in config.allowed_hosts:
        return config
    return config.model_copy(update={"allowed_hosts": [*config.allowed_hosts, name]})


def _uvicorn_config(app: Any, *, log_level: str) -> uvicorn.Config:
    # log_config=None: uvicorn must not install handlers that print access logs to stdout
    # (stdout is the MCP stdio transport when the engine runs embedded).
    return uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


class EngineServer:
    """The engine on `host:port` in a background thread. Use as `with EngineServer(cfg) as srv:`."""

    def __init__(self, config: EngineConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        config = _with_bind_host(config, host)
        self.config = config
        self.host = host
        self.port = port
        self.stats = RequestStats()
        self._app = create_app(config, stats=self.stats)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def engine(self) -> Engine:
        return self._app.state.engine

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("The engine is not running; call start() first.")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        if self.running:
            return self
        # proto=IPPROTO_TCP: accepted sockets inherit it, and asyncio only sets TCP_NODELAY on sockets
        # that say TCP; with proto 0 every response waits out the peer's delayed ACK (~40 ms).
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise RuntimeError(
                f"The engine cannot listen on {self.host}:{self.port} ({exc.strerror}). Pick another port, or 0 for any."
            ) from None
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(_uvicorn_config(self._app, log_level="warning"))
        self._server, self._error = server, None

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:  # noqa: BLE001 - surfaced by start()/stop() in the caller's thread
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"sora-engine-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"The engine did not start on {self.host}:{self.port}: {self._error or 'time-out'}."
                )
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = None

    def set_faults(self, **knobs: Any) -> None:
        """Change fault knobs (and poll-after / slowdown / TTL) while running; unknown names raise ValueError."""
        self.engine.set_faults(**knobs)
        self.config = self.engine.config

    def jobs_count(self) -> int:
        return self.engine.store.count()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_forever(
    config: EngineConfig, host: str = "127.0.0.1", port: int = 8000, *, insecure_no_auth: bool = False
) -> None:
    """Run the engine in the foreground until SIGINT/SIGTERM; logs go to stderr.

    Raises ValueError before binding when the config has no key and `insecure_no_auth` is False.
    """
    check_can_serve(config, insecure_no_auth=insecure_no_auth)
    config = _with_bind_host(config, host)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(config)
    server = uvicorn.Server(_uvicorn_config(app, log_level="info"))
    server.config.host, server.config.port = host, port
    log.info(
        "sora-mcp engine: procedural preview clips (not generative video) on http://%s:%d/v1 "
        "(data dir %s, %s%s)",
        host,
        port,
        config.data_dir,
        "API key required" if config.api_key else "OPEN: no API key (--insecure-no-auth)",
        ", /_engine admin routes on (fault injection)" if config.faults_enabled else "",
    )
    # uvicorn re-raises the signal it caught once it has shut down; neutral handlers make that a clean exit.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("sora-mcp engine stopped")

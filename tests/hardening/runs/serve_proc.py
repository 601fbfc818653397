"""`sora-mcp serve` as a real subprocess (HTTP or stdio), its stderr kept in a file for inspection."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.hardening.runs.common import SECRET_KEY

# `python -c _WITH_NOFILE N serve ...`: `sora-mcp serve ...` with at most N open files (soft and hard).
_WITH_NOFILE = (
    "import resource, runpy, sys; n = int(sys.argv.pop(1)); "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (n, n)); "
    "runpy.run_module('sora_mcp', run_name='__main__', alter_sys=True)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_env(settings: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "OPENAI_"))}
    env.update(
        SORA_MCP_BASE_URL=settings.base_url or "",
        SORA_MCP_API_KEY=SECRET_KEY,
        SORA_MCP_DATA_DIR=str(settings.data_dir),
        SORA_MCP_ALLOWED_ROOTS=str(settings.data_dir.parent / "inputs"),
    )
    env.update(extra)
    return env


class ServeProcess:
    """The server on 127.0.0.1:<free port>; `close()` returns what it wrote to stderr.

    `nofile` caps the server's open files (soft and hard); `args` are more `serve` flags."""

    def __init__(
        self,
        settings: Any,
        transport: str = "http",
        *,
        log_level: str = "WARNING",
        host: str = "127.0.0.1",
        env: dict[str, str] | None = None,
        wait: bool = True,
        nofile: int | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.host = host
        self.errfile = Path(settings.data_dir).parent / f"serve-{self.port}.stderr"
        self._err = self.errfile.open("wb")
        # `nofile`: a common default of 1024 open files, as on the machines where floods hit EMFILE.
        start = [sys.executable, "-m", "sora_mcp"]
        if nofile:
            start = [sys.executable, "-c", _WITH_NOFILE, str(nofile)]
        self.proc = subprocess.Popen(
            [
                *start,
                "serve",
                "--transport",
                transport,
                "--host",
                host,
                "--port",
                str(self.port),
                "--log-level",
                log_level,
                *args,
            ],
            env=serve_env(settings, **(env or {})),
            stdout=subprocess.DEVNULL,
            stderr=self._err,
        )
        if wait:
            self.wait_listening()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def wait_listening(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.stderr()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not start")

    def stderr(self) -> str:
        self._err.flush()
        return self.errfile.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no clean-up code runs, as in a crash."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._err.close()

    def close(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._err.close()
        return self.errfile.read_text(errors="replace")

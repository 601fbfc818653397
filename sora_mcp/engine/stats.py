"""A thread-safe log of the requests the engine answered, so tests can assert what reached it.

`EngineServer.stats` is read from the test thread while the server thread writes it. The log is
bounded (the newest `MAX_LOGGED` requests, paths cut to `MAX_PATH` characters): an engine that
runs for weeks inside the MCP server, or one flooded with long hostile paths, keeps a few MB.
"""

from __future__ import annotations

import threading
from collections import deque

MAX_LOGGED = 100_000
MAX_PATH = 200


class RequestStats:
    """`(method, path, status)` per answered request, plus how many jobs were created."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: deque[tuple[str, str, int]] = deque(maxlen=MAX_LOGGED)
        self._jobs_created = 0

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append((method[:16], path[:MAX_PATH], status))

    def job_created(self) -> None:
        with self._lock:
            self._jobs_created += 1

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return list(self._requests)

    @property
    def jobs_created(self) -> int:
        with self._lock:
            return self._jobs_created

    def count(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        """How many requests matched; a `path` ending in `*` matches as a prefix."""
        prefix = path[:-1] if path is not None and path.endswith("*") else None
        with self._lock:
            return sum(
                1
                for m, p, s in self._requests
                if (method is None or m == method.upper())
                and (path is None or (p.startswith(prefix) if prefix is not None else p == path))
                and (status is None or s == status)
            )

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._jobs_created = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._requests)

"""Rate-limited logging for the servers: a flood writes a few lines and a count, not a traceback per request.

Under a flood every connection can fail the same way ("Too many open files", a refused
connection, an expired deadline); logging each one (with its traceback) once filled 90 MB of
stderr in 45 s. `RateLimit` is a `logging.Filter` on the stderr handler: each kind of message
(logger + level + message template) passes at most `per_kind` times per window, all kinds together
at most `total` times; what it held back is reported as one line when the window turns.
"""

from __future__ import annotations

import logging
import time


class RateLimit(logging.Filter):
    def __init__(self, *, window_s: float = 30.0, per_kind: int = 3, total: int = 30) -> None:
        super().__init__()
        self.window_s, self.per_kind, self.total = window_s, per_kind, total
        self._start = time.monotonic()
        self._counts: dict[tuple[str, int, str], int] = {}
        self._passed = self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._start >= self.window_s:
            held, self._held = self._held, 0
            self._start, self._counts, self._passed = now, {}, 0
            if held:
                # Rewritten in place: the summary rides on the record that opened the new window.
                note = f"[{held} similar log lines suppressed in the last {self.window_s:.0f} s] "
                self._prefix(record, note)
        key = (record.name, record.levelno, str(record.msg)[:60])
        seen = self._counts.get(key, 0) + 1
        self._counts[key] = seen
        if seen > self.per_kind or self._passed >= self.total:
            self._held += 1
            return False
        self._passed += 1
        if seen == self.per_kind:
            self._prefix(record, "[repeated; holding back more of these for a while] ")
        return True

    @staticmethod
    def _prefix(record: logging.LogRecord, text: str) -> None:
        record.msg = text + str(record.msg)


class _TextFormatter(logging.Formatter):
    """The plain line, with `[request-id]` when written while an HTTP request is handled."""

    def format(self, record: logging.LogRecord) -> str:
        from sora_mcp.server.http.ops import request_id

        line = super().format(record)
        rid = request_id.get()
        return line if rid is None else f"{line} [{rid}]"


def install(level: str, log_format: str = "text") -> RateLimit:
    """Route every logger (uvicorn's and asyncio's included) to stderr through one rate limit,
    as text lines or one JSON object per line (`log_format="json"`)."""
    import sys

    from sora_mcp.server.http.ops import JsonFormatter

    limit = RateLimit()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(limit)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    return limit

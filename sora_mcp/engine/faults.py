"""Fault injection for tests and benchmarks: latency, 429 every N, random 5xx, failed jobs, denylist.

Reads the live `EngineConfig` on every call, so `set_faults` takes effect at once. Random
knobs draw from one RNG seeded by `fault_seed` (restarted whenever it is set) so runs repeat.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from sora_mcp.engine.config import EngineConfig
from sora_mcp.engine.errors import ApiError


class Faults:
    """Decides, per request and per job, which injected fault (if any) applies."""

    def __init__(self, config: Callable[[], EngineConfig]) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._counter = 0
        self._rng = random.Random(config().fault_seed)

    def reseed(self) -> None:
        """Restart the random sequence from the current `fault_seed` (called when it is set)."""
        with self._lock:
            self._counter = 0
            self._rng = random.Random(self._config().fault_seed)

    def _random(self) -> float:
        with self._lock:
            return self._rng.random()

    def request_fault(self) -> ApiError | None:
        """The 429 or 5xx to answer instead of handling this /v1 request, if any."""
        config = self._config()
        with self._lock:
            self._counter += 1
            count = self._counter
        if config.rate_limit_every_n and count % config.rate_limit_every_n == 0:
            return ApiError(
                429,
                f"Rate limit reached: this engine answers every {config.rate_limit_every_n}th request with 429 "
                f"(rate_limit_every_n fault knob). Retry after {config.retry_after_s} s.",
                type="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": str(config.retry_after_s)},
            )
        if config.error_rate_5xx and self._random() < config.error_rate_5xx:
            return ApiError(
                500,
                "The engine injected a server error (error_rate_5xx fault knob). Retry the request.",
                type="server_error",
                code="server_error",
            )
        return None

    def plan_failure(self, prompt: str) -> dict[str, str] | None:
        """The `{code, message}` a new job will fail with, decided when it is created."""
        config = self._config()
        lowered = prompt.casefold()
        for term in config.denylist:
            if term and term.casefold() in lowered:
                return {
                    "code": "moderation_blocked",
                    "message": f"The prompt was blocked by moderation: it contains the denied phrase '{term}'. "
                    "Rephrase the prompt without it and create a new video.",
                }
        if config.fail_rate and self._random() < config.fail_rate:
            return {
                "code": "video_generation_failed",
                "message": "The engine injected a generation failure (fail_rate fault knob). "
                "Create the video again.",
            }
        return None

"""Waiting on conditions in tests, never for a fixed time: `eventually(check)` polls until `check()`
is truthy (and returns its value) or fails naming what it waited for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio


async def eventually(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Wait (without asserting on time) until `check()` returns something truthy."""
    deadline = anyio.current_time() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if anyio.current_time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await anyio.sleep(0.05)

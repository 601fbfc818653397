"""Who a request acts for: the `Principal` and the context variable that carries it.

stdio, the CLI and an HTTP server with no users configured act for the local owner (`LOCAL`),
who sees every job, as sora-mcp always did. In HTTP mode with users (a tokens file or OIDC),
the front end sets the verified user for the duration of each request (`acting_as`); the
SDK hands every handler the request's context variables, so the service reads it where jobs
are recorded and looked up. Background work started from a request keeps that request's
user; work started at start-up (recovery, the watcher of old jobs) runs as `LOCAL`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

LOCAL_OWNER = "local"


@dataclass(frozen=True)
class Budget:
    """A user's own spending caps in USD (None: that cap is not set)."""

    total_usd: float | None = None
    daily_usd: float | None = None
    monthly_usd: float | None = None

    @property
    def empty(self) -> bool:
        return self.total_usd is None and self.daily_usd is None and self.monthly_usd is None


@dataclass(frozen=True)
class Principal:
    """A user: their id (the `owner` of the jobs they make), whether they may see every job, and
    their own budget (None: the server's SORA_MCP_BUDGET_* settings apply to them)."""

    user_id: str
    admin: bool = False
    budget: Budget | None = None

    @property
    def owner_filter(self) -> str | None:
        """The owner a ledger query is limited to; None for an admin (every job)."""
        return None if self.admin else self.user_id


LOCAL = Principal(LOCAL_OWNER, admin=True)

_current: ContextVar[Principal] = ContextVar("sora_mcp_principal", default=LOCAL)


def current() -> Principal:
    return _current.get()


@contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    token = _current.set(principal)
    try:
        yield principal
    finally:
        _current.reset(token)

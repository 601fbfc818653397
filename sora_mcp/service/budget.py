"""The spending cap: a call whose quote would cross the remaining budget needs approval.

The front end supplies `approve(quote, reason)`: the MCP server asks the user through
elicitation when the client supports it; the CLI has none, so it refuses with the numbers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sora_mcp.config import Settings
from sora_mcp.errors import BudgetExceeded
from sora_mcp.models import Quote

Approver = Callable[[Quote, str], Awaitable[bool]]


def remaining_budget(settings: Settings, ledger: Any) -> tuple[float | None, str]:
    """The smallest remaining allowance (total or today's) and which one it is."""
    left: list[tuple[float, str]] = []
    if settings.budget_usd is not None:
        left.append((settings.budget_usd - ledger.spent_since(0), "total budget (SORA_MCP_BUDGET_USD)"))
    if settings.budget_daily_usd is not None:
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        spent = ledger.spent_since(int(midnight.timestamp()))
        left.append((settings.budget_daily_usd - spent, "daily budget (SORA_MCP_BUDGET_DAILY_USD)"))
    if not left:
        return None, ""
    return min(left)


async def check_budget(settings: Settings, ledger: Any, quote: Quote, approve: Approver | None) -> None:
    remaining, which = remaining_budget(settings, ledger)
    if remaining is None or quote.usd is None or quote.usd <= remaining:
        return
    reason = (
        f"This request is estimated at ${quote.usd:.2f} ({quote.model}, {quote.size}, {quote.seconds}s) and the "
        f"remaining {which} is ${max(remaining, 0):.2f}."
    )
    if approve is not None and await approve(quote, reason):
        return
    raise BudgetExceeded(
        reason + " It was not sent",
        fix=f"Raise the {which.split(' (')[0]} (set {which.split('(')[1].rstrip(')')}), or approve it when asked.",
    )


def now() -> int:
    return int(time.time())

"""The spending cap: a call whose quote would cross the remaining budget needs approval.

`over_budget` says whether a quote crosses the smallest remaining allowance (total or
today's), counting money already reserved by calls still in flight. `check_budget` then asks
the front end's `approve(quote, reason)`: True = approved once, False = the user declined,
None = nobody could be asked (a client without elicitation, the CLI). Anything but True is
refused with the quote, the remaining budget and how to raise it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

from sora_mcp.config import Settings
from sora_mcp.errors import BudgetExceeded
from sora_mcp.library import Ledger
from sora_mcp.models import Quote

# True: go ahead; False: the user declined; None: the user could not be asked.
Approver = Callable[[Quote, str], Awaitable[bool | None]]


class Reservations:
    """Quotes of paid requests in flight, counted against the budget until each is recorded or fails."""

    def __init__(self) -> None:
        self.usd = 0.0

    def add(self, usd: float | None) -> None:
        self.usd += usd or 0.0

    def release(self, usd: float | None) -> None:
        self.usd -= usd or 0.0

    @contextlib.contextmanager
    def hold(self, usd: float | None) -> Iterator[None]:
        self.add(usd)
        try:
            yield
        finally:
            self.release(usd)


_TOTAL = ("total budget", "SORA_MCP_BUDGET_USD")
_DAILY = ("daily budget", "SORA_MCP_BUDGET_DAILY_USD")


def remaining_budget(settings: Settings, ledger: Ledger, reserved: float = 0.0) -> tuple[float | None, str]:
    """The smallest remaining allowance (total or today's) and which one it is, e.g.
    `(0.35, "total budget (SORA_MCP_BUDGET_USD)")`; `(None, "")` when no budget is set."""
    left: list[tuple[float, str]] = []
    if settings.budget_usd is not None:
        left.append((settings.budget_usd - ledger.spent_since(0) - reserved, f"{_TOTAL[0]} ({_TOTAL[1]})"))
    if settings.budget_daily_usd is not None:
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        spent = ledger.spent_since(int(midnight.timestamp()))
        left.append((settings.budget_daily_usd - spent - reserved, f"{_DAILY[0]} ({_DAILY[1]})"))
    if not left:
        return None, ""
    return min(left)


def over_budget(settings: Settings, ledger: Ledger, quote: Quote, reserved: float = 0.0) -> str | None:
    """Why `quote` needs approval, or None when it fits (or has no price, or no budget is set)."""
    remaining, which = remaining_budget(settings, ledger, reserved)
    if remaining is None or quote.usd is None or quote.usd <= remaining + 1e-9:
        return None
    what = (
        f"This batch ({quote.seconds} s of video in all)"
        if quote.model == "batch"
        else f"This request ({quote.model}, {quote.size}, {quote.seconds} s)"
    )
    return f"{what} is estimated at ${quote.usd:.2f} and the remaining {which} is ${max(remaining, 0):.2f}."


def budget_fix(settings: Settings, reason: str) -> str:
    limit, var = _DAILY if _DAILY[1] in reason else _TOTAL
    current = settings.budget_daily_usd if var == _DAILY[1] else settings.budget_usd
    later = " or wait until tomorrow (UTC)" if var == _DAILY[1] else ""
    return (
        f"Raise the {limit}: set {var} above ${current or 0:.2f} and restart the server{later}; "
        "or make it cheaper (fewer seconds, a smaller size or model); dry_run=true quotes without spending."
    )


async def check_budget(
    settings: Settings, ledger: Ledger, quote: Quote, approve: Approver | None, reserved: float = 0.0
) -> None:
    """Return when the quote fits or was approved once; raise BudgetExceeded otherwise."""
    reason = over_budget(settings, ledger, quote, reserved)
    if reason is None:
        return
    answer = await approve(quote, reason) if approve is not None else None
    if answer is True:
        return
    if answer is False:
        why = " You declined the spend, so nothing was sent."
    else:
        why = (
            " The client cannot be asked for approval (it does not support elicitation), so nothing was sent."
        )
    raise BudgetExceeded(reason + why, fix=budget_fix(settings, reason))

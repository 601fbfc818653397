"""The spending cap: a call whose quote would cross the remaining budget needs approval.

`over_budget` says whether a quote crosses the smallest remaining allowance (total or
today's), counting money already reserved by calls still in flight. `check_budget` then asks
the front end's `approve(quote, reason)`: True = approved once, False = the user declined,
None = nobody could be asked (a client without elicitation, the CLI). Anything but True is
refused with the quote, the remaining budget and how to raise it.

Budgets are per user (`sora_mcp.principal`): the spend counted is the current user's own, and
the caps are the user's own when the tokens file gives them one, else the server's
SORA_MCP_BUDGET_* settings (which then hold for each user separately). stdio and the CLI act
for the local owner, whose jobs are all the jobs a single-user ledger has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sora_mcp import principal
from sora_mcp.config import Settings
from sora_mcp.errors import BudgetExceeded
from sora_mcp.models import Quote

# True: go ahead; False: the user declined; None: the user could not be asked.
Approver = Callable[[Quote, str], Awaitable[bool | None]]

_TOTAL = ("total budget", "SORA_MCP_BUDGET_USD")
_DAILY = ("daily budget", "SORA_MCP_BUDGET_DAILY_USD")
_YOURS = "set for your account in the tokens file"


def remaining_budget(settings: Settings, ledger: Any, reserved: float = 0.0) -> tuple[float | None, str]:
    """The current user's smallest remaining allowance (total, this month's or today's) and which
    one it is, e.g. `(0.35, "total budget (SORA_MCP_BUDGET_USD)")`; `(None, "")` when no budget is set."""
    who = principal.current()
    now = datetime.now(UTC)
    midnight = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
    month = int(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())
    own = who.budget if who.budget is not None and not who.budget.empty else None
    caps: list[tuple[float | None, int, str]] = (
        [
            (own.total_usd, 0, f"total budget ({_YOURS})"),
            (own.monthly_usd, month, f"monthly budget ({_YOURS})"),
            (own.daily_usd, midnight, f"daily budget ({_YOURS})"),
        ]
        if own is not None
        else [
            (settings.budget_usd, 0, f"{_TOTAL[0]} ({_TOTAL[1]})"),
            (settings.budget_daily_usd, midnight, f"{_DAILY[0]} ({_DAILY[1]})"),
        ]
    )
    left = [
        (cap - ledger.spent_since(since, owner=who.user_id) - reserved, which)
        for cap, since, which in caps
        if cap is not None
    ]
    if not left:
        return None, ""
    return min(left)


def over_budget(settings: Settings, ledger: Any, quote: Quote, reserved: float = 0.0) -> str | None:
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
    if _YOURS in reason:
        return (
            "Ask the server's operator to raise your budget (your entry in the tokens file), "
            "or wait for the next day or month (UTC); or make it cheaper (fewer seconds, a smaller size or "
            "model); dry_run=true quotes without spending."
        )
    limit, var = _DAILY if _DAILY[1] in reason else _TOTAL
    current = settings.budget_daily_usd if var == _DAILY[1] else settings.budget_usd
    later = " or wait until tomorrow (UTC)" if var == _DAILY[1] else ""
    return (
        f"Raise the {limit}: set {var} above ${current or 0:.2f} and restart the server{later}; "
        "or make it cheaper (fewer seconds, a smaller size or model); dry_run=true quotes without spending."
    )


async def check_budget(
    settings: Settings, ledger: Any, quote: Quote, approve: Approver | None, reserved: float = 0.0
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

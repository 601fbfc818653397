"""The spending cap: a call whose quote would cross the remaining budget needs approval.

`over_budget` says whether a quote crosses the smallest remaining allowance (total or
today's), counting money already reserved by calls still in flight. `check_budget` then asks
the front end's `approve(quote, reason)`: True = approved once, False = the user declined,
None = nobody could be asked (a client without elicitation, the CLI). Anything but True is
refused with the quote, the remaining budget and how to raise it.

Budgets are per user (`sora_mcp.principal`): the spend counted is the user's own, and so are
the reservations (one user's requests in flight never hold back another's); the caps are the
user's own when the tokens file gives them one, else the server's SORA_MCP_BUDGET_* settings
(which then hold for each user separately). stdio and the CLI act for the local owner, whose
jobs are all the jobs a single-user ledger has.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

from sora_mcp.config import Settings
from sora_mcp.errors import BudgetExceeded
from sora_mcp.library import Ledger
from sora_mcp.models import Quote
from sora_mcp.principal import Principal

# True: go ahead; False: the user declined; None: the user could not be asked.
Approver = Callable[[Quote, str], Awaitable[bool | None]]


class Reservations:
    """Quotes of paid requests in flight, by user, counted against that user's budget until each
    is recorded or fails."""

    def __init__(self) -> None:
        self.by_user: dict[str, float] = {}

    def of(self, user: str) -> float:
        return self.by_user.get(user, 0.0)

    def add(self, user: str, usd: float | None) -> None:
        left = self.of(user) + (usd or 0.0)
        if abs(left) < 1e-9:
            self.by_user.pop(user, None)  # no entry kept per user who has nothing in flight
        else:
            self.by_user[user] = left

    def release(self, user: str, usd: float | None) -> None:
        self.add(user, -(usd or 0.0))

    @contextlib.contextmanager
    def hold(self, user: str, usd: float | None) -> Iterator[None]:
        self.add(user, usd)
        try:
            yield
        finally:
            self.release(user, usd)


_TOTAL = ("total budget", "SORA_MCP_BUDGET_USD")
_DAILY = ("daily budget", "SORA_MCP_BUDGET_DAILY_USD")
_YOURS = "set for your account in the tokens file"


def _caps(settings: Settings, who: Principal) -> list[tuple[float | None, int, str]]:
    """(cap, counted since, which) of the budgets that hold for `who`: their own, else the server's."""
    now = datetime.now(UTC)
    midnight = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
    month = int(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp())
    own = who.budget
    if own is not None and not own.empty:
        return [
            (own.total_usd, 0, f"total budget ({_YOURS})"),
            (own.monthly_usd, month, f"monthly budget ({_YOURS})"),
            (own.daily_usd, midnight, f"daily budget ({_YOURS})"),
        ]
    return [
        (settings.budget_usd, 0, f"{_TOTAL[0]} ({_TOTAL[1]})"),
        (settings.budget_daily_usd, midnight, f"{_DAILY[0]} ({_DAILY[1]})"),
    ]


def has_budget(settings: Settings, who: Principal) -> bool:
    """Whether any budget holds for `who`."""
    return any(cap is not None for cap, _, _ in _caps(settings, who))


def remaining_budget(
    settings: Settings, ledger: Ledger, who: Principal, reserved: float = 0.0
) -> tuple[float | None, str]:
    """`who`'s smallest remaining allowance (total, this month's or today's) and which one it is,
    e.g. `(0.35, "total budget (SORA_MCP_BUDGET_USD)")`; `(None, "")` when no budget is set."""
    left = [
        (cap - ledger.spent_since(since, owner=who.user_id) - reserved, which)
        for cap, since, which in _caps(settings, who)
        if cap is not None
    ]
    if not left:
        return None, ""
    return min(left)


def over_budget(
    settings: Settings, ledger: Ledger, who: Principal, quote: Quote, reserved: float = 0.0
) -> str | None:
    """Why `quote` needs `who`'s approval, or None when it fits (or has no price, or no budget is set)."""
    remaining, which = remaining_budget(settings, ledger, who, reserved)
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
    settings: Settings,
    ledger: Ledger,
    who: Principal,
    quote: Quote,
    approve: Approver | None,
    reserved: float = 0.0,
) -> None:
    """Return when the quote fits `who`'s budget or was approved once; raise BudgetExceeded otherwise."""
    reason = over_budget(settings, ledger, who, quote, reserved)
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

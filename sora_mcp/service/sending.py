"""Sending a paid request (create / remix / extend / edit) so that one request is never two billed jobs.

A POST whose answer never came (time-out after sending, dropped connection: `OutcomeUnknown`)
or that was answered with a server error (a plain `BackendError`, e.g. HTTP 500) may still have
made a job. Before anything else it is reconciled:

- the backend honours `Idempotency-Key` (the embedded engine does; for other backends nobody can
  tell, so they are treated as not honouring it): the request is resent with the SAME key, and
  the backend hands back the job the first send made, if it made one;
- otherwise the backend's recent jobs (last 10 minutes) are searched for one with the same
  prompt, model, size and duration (and source, for a remix) that neither the ledger nor another
  reconciliation has claimed.

Outcomes: the job found is returned; an answered error with no job found is re-raised as it was
(the backend finished with the request, so nothing was made and a retry is safe); an unanswered
request with no job found after several looks raises `OutcomeUnknown` and is NOT resent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from sora_mcp.errors import BackendError, BackendUnavailable, OutcomeUnknown, RateLimited, SoraError
from sora_mcp.models import RemotePage, RemoteVideo
from sora_mcp.service.context import ServiceContext

if TYPE_CHECKING:
    from sora_mcp.backends import Backend

log = logging.getLogger("sora_mcp.service")

WINDOW_S = 600
PAUSES_S = (0.0, 0.5, 1.0, 2.0)  # between looks: a slow backend may show the job late
PAGES = 4
PAGE_SIZE = 100

Send = Callable[[], Awaitable[RemoteVideo]]


@dataclass(frozen=True)
class Match:
    """What the lost request asked for; a backend job must agree on every field it reports."""

    prompt: str
    model: str | None = None
    size: str | None = None
    seconds: str | None = None
    source_id: str | None = None

    def fits(self, item: RemoteVideo) -> bool:
        if (item.prompt or "").strip() != self.prompt.strip():
            return False
        pairs = (
            (self.model, item.model),
            (self.size, item.size),
            (self.seconds, item.seconds),
            (self.source_id, item.remixed_from_video_id),
        )
        return all(want is None or got is None or str(want) == str(got) for want, got in pairs)


def honours_idempotency(backend: Backend) -> bool:
    """Only a backend known to replay `Idempotency-Key` may be resent a request of unknown outcome."""
    return getattr(backend, "honours_idempotency", None) is True  # from the backend's dialect record


def _answered(exc: BackendError) -> bool:
    """A plain BackendError is an answer (5xx, odd status, bad body): the request is over."""
    return type(exc) is BackendError


async def send_once(
    ctx: ServiceContext, send: Send, match: Match, backend: Backend | None = None
) -> RemoteVideo:
    try:
        return await send()
    except OutcomeUnknown as exc:
        first: BackendError = exc
    except BackendError as exc:
        if not _answered(exc):
            raise  # 429, auth, never sent: nothing can have been made
        first = exc
    backend = backend or await ctx.backends.get()  # the backend the request went to
    started = time.monotonic()
    for pause in PAUSES_S:
        await anyio.sleep(pause)
        if honours_idempotency(backend) and not _answered(first):
            found = await _resend(send)
        else:
            listed = await _recent(backend, int(time.time()) - WINDOW_S)
            found = _claim(ctx, listed or [], match)
            if found is None and listed is not None and _answered(first):
                raise first  # the backend finished with the request and shows no job: nothing was made
        if found is not None:
            log.info("a create's outcome was unknown; reconciled to the backend's job %s", found.id)
            return found
    raise _still_unknown(first, match, time.monotonic() - started)


async def _resend(send: Send) -> RemoteVideo | None:
    try:
        return await send()
    except (OutcomeUnknown, BackendUnavailable, RateLimited):
        return None
    except BackendError as exc:
        if _answered(exc):
            return None
        raise


async def _recent(backend: Backend, cutoff: int) -> list[RemoteVideo] | None:
    """The backend's jobs created since `cutoff`, newest first; None when it cannot be listed now."""
    items: list[RemoteVideo] = []
    after = None
    for _ in range(PAGES):
        page = await _read_page(backend, after)
        if page is None:
            return None
        items.extend(page.data)
        if not page.has_more or not page.data or (page.data[-1].created_at or cutoff) < cutoff:
            break
        after = page.last_id or page.data[-1].id
    return [i for i in items if (i.created_at or cutoff) >= cutoff]


async def _read_page(backend: Backend, after: str | None, tries: int = 3) -> RemotePage | None:
    """One page of the job list; a read is safe to retry, so passing 429s and 5xx are."""
    for attempt in range(tries):
        try:
            return await backend.list(limit=PAGE_SIZE, after=after, order="desc")
        except BackendError as exc:
            # An unreachable or timed-out backend is not asked again at once: the next look will.
            if attempt == tries - 1 or not (isinstance(exc, RateLimited) or type(exc) is BackendError):
                return None
            wait = getattr(exc, "retry_after", None)
            await anyio.sleep(min(wait if wait is not None else 0.25 * (attempt + 1), 5.0))
        except SoraError:
            return None
    return None


def _claim(ctx: ServiceContext, items: list[RemoteVideo], match: Match) -> RemoteVideo | None:
    ledger = ctx.ledger
    for item in items:
        if item.id in ctx.claimed or not match.fits(item) or ledger.get(item.id) is not None:
            continue
        ctx.claimed.add(item.id)
        return item
    return None


def _still_unknown(first: BackendError, match: Match, spent_s: float) -> OutcomeUnknown:
    shown = " ".join(match.prompt.split())[:60]
    return OutcomeUnknown(
        f"{first.message.rstrip('.')}. No matching job turned up on the backend after checking for "
        f"{spent_s:.0f} s, and the request was not resent, so you are not billed twice",
        fix=f"In a minute, call list_videos(text='{shown}') to look for it; only if nothing shows up, "
        "create it again.",
    )

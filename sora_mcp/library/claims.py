"""Claims: leases on work that only one of several instances sharing a ledger should do.

A claim is a row `(kind, key) -> owner, expires_at` in the `claims` table, e.g.
`("archive", video_id)`. `claim` takes it with one atomic upsert that succeeds when the row is
new, already the caller's, or expired (its owner died or stalled): on PostgreSQL concurrent
upserts on one key are serialised by the unique index, on SQLite by the file's single writer,
so exactly one caller wins. The owner then `renew`s it while working and `release`s it when
done. Expiry is read from each instance's own clock, so instances need clocks in step (NTP)
to well within the lease length.

A mixin so `Ledger` stays about jobs; it relies only on `_tx` and `_clock`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from sora_mcp.library.sql import Executor


class LedgerClaims:
    _clock: Callable[[], float]

    def _tx(self, key: str | None = None) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    def claim(self, kind: str, key: str, owner: str, ttl_s: float) -> bool:
        """Take (or keep) the lease on `(kind, key)` for `ttl_s` seconds; False when another owner holds it."""
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        now = self._clock()
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO claims(kind, key, owner, expires_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(kind, key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE claims.owner = excluded.owner OR claims.expires_at <= ?",
                (kind, key, owner, now + ttl_s, now),
            )
            return cur.rowcount == 1

    def renew(self, kind: str, key: str, owner: str, ttl_s: float) -> bool:
        """Extend a lease still held by `owner`; False when it was taken over (stop the work)."""
        with self._tx() as c:
            cur = c.execute(
                "UPDATE claims SET expires_at = ? WHERE kind = ? AND key = ? AND owner = ?",
                (self._clock() + ttl_s, kind, key, owner),
            )
            return cur.rowcount == 1

    def release(self, kind: str, key: str, owner: str) -> None:
        """Give the lease up (a no-op when another owner has taken it over meanwhile)."""
        with self._tx() as c:
            c.execute("DELETE FROM claims WHERE kind = ? AND key = ? AND owner = ?", (kind, key, owner))

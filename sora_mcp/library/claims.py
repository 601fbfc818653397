"""Claims: leases on work that only one of several instances sharing a ledger should do.

A claim is a row `(kind, key) -> owner, expires_at` in the `claims` table, e.g.
`("archive", video_id)`. `claim` takes it with one atomic upsert that succeeds when the row is
new, already the caller's, or expired (its owner died or stalled): on PostgreSQL concurrent
upserts on one key are serialised by the unique index, on SQLite by the file's single writer,
so exactly one caller wins. The owner then `renew`s it while working and `release`s it when
done. Expiry is read from each instance's own clock, so instances need clocks in step (NTP)
to well within the lease length.

The same table paces polling: a `("poll", video_id)` lease lasts until the job's next poll is
due, so across instances a job is asked about once per interval (`lease_expiry` tells the
others when). `remember_once` keeps delivery ids seen (webhooks) in the database, so a replay
is refused by whichever instance it reaches. `sweep_claims` drops long-expired rows.

A mixin so `Ledger` stays about jobs; it relies only on `_tx`, `_rows` and `_clock`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sora_mcp.library.sql import Executor, Row


class LedgerClaims:
    _clock: Callable[[], float]

    def _tx(self, key: str | None = None) -> AbstractContextManager[Executor]:
        raise NotImplementedError

    def _rows(self, sql: str, params: tuple[Any, ...] | builtins.list[Any] = ()) -> builtins.list[Row]:
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

    def lease_expiry(self, kind: str, key: str) -> float | None:
        """When the lease on `(kind, key)` ends (unix seconds), or None when nobody holds one."""
        rows = self._rows("SELECT expires_at FROM claims WHERE kind = ? AND key = ?", (kind, key))
        return float(rows[0]["expires_at"]) if rows else None

    def sweep_claims(self, older_than_s: float) -> int:
        """Drop leases (and remembered deliveries) expired more than `older_than_s` ago; how many claims."""
        cutoff = self._clock() - older_than_s
        with self._tx() as c:
            gone = c.execute("DELETE FROM claims WHERE expires_at < ?", (cutoff,)).rowcount
            c.execute("DELETE FROM deliveries_seen WHERE expires_at < ?", (cutoff,))
        return int(gone)

    def remember_once(self, key: str, keep_s: float) -> bool:
        """Note a delivery id for `keep_s` seconds; False when it was already noted (a replay).

        One atomic upsert: of several instances receiving the same delivery at once, one gets True.
        """
        now = self._clock()
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO deliveries_seen(key, expires_at) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET expires_at = excluded.expires_at "
                "WHERE deliveries_seen.expires_at <= ?",
                (key, now + keep_s, now),
            )
            return cur.rowcount == 1

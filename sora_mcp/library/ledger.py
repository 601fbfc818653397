"""The ledger: every job, its status history and archived files, in SQLite (default) or PostgreSQL.

`Ledger(path)` opens one SQLite file (WAL); `Ledger("postgresql://...")` a PostgreSQL
database shared by several instances (`pg.py`). The SQL is written once; `sql.py` holds the
differences between the two stores. Methods are synchronous and short (one transaction each),
so async callers may call them directly. With SQLite, one connection per `Ledger`, shared
across threads under a lock; several `Ledger` objects or processes may open the same file
(writes take `BEGIN IMMEDIATE`, waits are bounded by `busy_timeout`). Schema migrations run on
open (`migrations.py`).

Methods: record_pending / resolve_pending / drop_pending / unresolved_pending (creates whose
outcome is unknown), record_job, update_status, get, list_jobs, unfinished, unarchived,
mark_deleted, add_asset, remove_assets, assets, spend_summary, spent_since, summary,
claim / renew / release (work done once across instances, `claims.py`), close.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal

from sora_mcp.errors import ConfigError, InvalidInput, as_disk_full
from sora_mcp.library.claims import LedgerClaims
from sora_mcp.library.migrations import migrate
from sora_mcp.library.records import JobRecord, StatusEvent, StoredAsset, asset_from_row, record_from_row
from sora_mcp.library.reports import LedgerReports
from sora_mcp.library.sql import Database, Executor, Row, SqliteDatabase, is_postgres_url
from sora_mcp.library.tempfiles import PRIVATE_DIR, private_file
from sora_mcp.models import TERMINAL_STATUSES, VARIANT_EXT, RemoteVideo

BILLED_NOTE = "billed: the cost the backend reported for this job (not an estimate)"
_SOURCE_COLUMN = {"remix": "remixed_from", "extend": "extended_from", "edit": "edited_from"}
_TERMINAL_SQL = ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES))
_OPEN_FAILED_FIX = (
    "Move ledger.sqlite3 out of the data directory (SORA_MCP_DATA_DIR) and restart; a new one is made."
)


class Ledger(LedgerClaims, LedgerReports):
    def __init__(
        self, location: Path | str, *, timeout_s: float = 10.0, clock: Callable[[], float] = time.time
    ) -> None:
        """`location`: a SQLite file path, or a `postgresql://` URL."""
        self.location = location
        self.path: Path | None = None
        self._clock = clock
        db: Database | None = None
        try:
            if is_postgres_url(location):
                from sora_mcp.library.pg import PgDatabase  # psycopg is an optional extra

                db = PgDatabase(str(location), timeout_s)
            else:
                path = self.path = Path(location)
                path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
                db = SqliteDatabase(path, timeout_s)
            migrate(db)
            self._db: Database = db
            if self.path is not None:
                for name in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                    private_file(name)  # files an older version made 0644
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            if (full := as_disk_full(exc)) is not None:
                raise full from None
            raise ConfigError(f"The ledger could not be opened ({exc}).", fix=_OPEN_FAILED_FIX) from None
        except BaseException:
            if db is not None:
                db.close()
            raise

    # -- plumbing ---------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    def _tx(self, key: str | None = None) -> AbstractContextManager[Executor]:
        """One write transaction; writers of the same `key` (a job id) never interleave."""
        return self._db.tx(key)

    def _rows(self, sql: str, params: tuple[Any, ...] | builtins.list[Any] = ()) -> builtins.list[Row]:
        return self._db.rows(sql, params)

    def close(self) -> None:
        self._db.close()

    # -- creates whose outcome may be unknown ---------------------------------------------------

    def record_pending(self, key: str, fingerprint: str, meta: dict[str, Any]) -> None:
        """Note a create BEFORE it is sent; a retry with the same key keeps the first send time."""
        with self._tx(key) as c:
            c.execute(
                "INSERT INTO pending_creates(key, fingerprint, meta, sent_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET fingerprint = excluded.fingerprint, meta = excluded.meta, "
                "attempts = pending_creates.attempts + 1",
                (key, fingerprint, json.dumps(meta, default=str), self._now()),
            )

    def resolve_pending(self, key: str, video_id: str) -> None:
        with self._tx(key) as c:
            c.execute("UPDATE pending_creates SET resolved_video_id = ? WHERE key = ?", (video_id, key))

    def drop_pending(self, key: str) -> None:
        """Forget a create the backend definitely refused (nothing was made)."""
        with self._tx(key) as c:
            c.execute("DELETE FROM pending_creates WHERE key = ?", (key,))

    def unresolved_pending(self, max_age_s: float) -> builtins.list[dict[str, Any]]:
        rows = self._rows(
            "SELECT * FROM pending_creates WHERE resolved_video_id IS NULL AND sent_at >= ? ORDER BY sent_at",
            (self._now() - max_age_s,),
        )
        return [{**dict(r), "meta": json.loads(r["meta"]) if r["meta"] else {}} for r in rows]

    # -- jobs -------------------------------------------------------------------------------

    def _history(self, c: Executor, video_id: str, status: str, progress: int) -> None:
        c.execute(
            "INSERT INTO status_history(video_id, status, progress, at) VALUES (?, ?, ?, ?)",
            (video_id, status, progress, self._now()),
        )

    @staticmethod
    def _remote_fields(remote: RemoteVideo) -> dict[str, Any]:
        return {
            "status": remote.status,
            "raw_status": remote.raw_status,
            "progress": max(0, min(100, int(remote.progress))),
            "model": remote.model,
            "size": remote.size,
            "seconds": remote.seconds,
            "error_code": remote.error.code if remote.error else None,
            "error_message": remote.error.message if remote.error else None,
            "completed_at": remote.completed_at,
            "expires_at": remote.expires_at,
        }

    def record_job(
        self,
        remote: RemoteVideo,
        *,
        backend: str | None = None,
        prompt_given: str | None = None,
        prompt_sent: str | None = None,
        augmentation: dict[str, Any] | None = None,
        input_reference_sha256: str | None = None,
        kind: str = "create",
        source_id: str | None = None,
        cost_usd: float | None = None,
        cost_note: str | None = None,
        idempotency_key: str | None = None,
        base_url_host: str | None = None,
    ) -> None:
        """Insert or update a job sora-mcp made; history gets a row when the status is new."""
        now = self._now()
        row = {
            **self._remote_fields(remote),
            "id": remote.id,
            "backend": backend,
            "base_url_host": base_url_host,
            "prompt_given": prompt_given,
            "prompt_sent": prompt_sent if prompt_sent is not None else remote.prompt,
            "augmentation": json.dumps(augmentation) if augmentation else None,
            "input_reference_sha256": input_reference_sha256,
            "remixed_from": remote.remixed_from_video_id,
            "extended_from": None,
            "edited_from": None,
            "kind": kind,
            "created_at": remote.created_at if remote.created_at is not None else now,
            "cost_usd": remote.cost_usd if remote.cost_usd is not None else cost_usd,
            "cost_note": BILLED_NOTE if remote.cost_usd is not None else cost_note,
            "idempotency_key": idempotency_key,
            "updated_at": now,
            "recorded_at": now,
        }
        if source_id and kind in _SOURCE_COLUMN:
            row[_SOURCE_COLUMN[kind]] = source_id
        # created_at and recorded_at are kept from a first sighting: the list cursor relies on it.
        keep = {"id", "created_at", "recorded_at"}
        updates = ", ".join(
            f"{k} = COALESCE(excluded.{k}, jobs.{k})"
            if k not in {"status", "progress", "kind"}
            else f"{k} = excluded.{k}"
            for k in row
            if k not in keep
        )
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._tx(remote.id) as c:
            old = c.execute("SELECT status FROM jobs WHERE id = ?", (remote.id,)).fetchone()
            c.execute(
                f"INSERT INTO jobs({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}",
                list(row.values()),
            )
            if old is None or old["status"] != remote.status:
                self._history(c, remote.id, remote.status, row["progress"])

    def update_status(
        self, remote: RemoteVideo, *, polled: bool = False, base_url_host: str | None = None
    ) -> bool:
        """Record what the backend says now; True when the status changed (or the job is new here).

        A job the ledger has never seen is stored with kind="external" so that list merging
        and archiving work for it too. `polled=True` also counts this read as one poll of the
        job, in the same transaction.
        """
        fields = self._remote_fields(remote)
        now = self._now()
        with self._tx(remote.id) as c:
            old = c.execute("SELECT status, deleted_remote FROM jobs WHERE id = ?", (remote.id,)).fetchone()
            if old is not None and old["deleted_remote"]:
                # Deleted here (a backend that cannot delete keeps reporting it): the mark stands.
                fields["status"] = "deleted"
            if old is None:
                row = {
                    **fields,
                    "id": remote.id,
                    "kind": "external",
                    "base_url_host": base_url_host,  # which backend listed it, to follow it there
                    "prompt_sent": remote.prompt,
                    "remixed_from": remote.remixed_from_video_id,
                    "created_at": remote.created_at if remote.created_at is not None else now,
                    "updated_at": now,
                    "recorded_at": now,
                    "polls": int(polled),
                }
                marks = ", ".join("?" for _ in row)
                c.execute(f"INSERT INTO jobs({', '.join(row)}) VALUES ({marks})", list(row.values()))
                self._history(c, remote.id, remote.status, fields["progress"])
                return True
            sets = ", ".join(
                f"{k} = ?" if k in {"status", "progress", "raw_status"} else f"{k} = COALESCE(?, {k})"
                for k in fields
            )
            c.execute(
                f"UPDATE jobs SET {sets}, updated_at = ?, polls = polls + ? WHERE id = ?",
                [*fields.values(), now, int(polled), remote.id],
            )
            if remote.cost_usd is not None:  # the provider's bill replaces the estimate
                c.execute(
                    "UPDATE jobs SET cost_usd = ?, cost_note = ? WHERE id = ?",
                    (remote.cost_usd, BILLED_NOTE, remote.id),
                )
            if remote.status == "deleted":
                c.execute(
                    "UPDATE jobs SET deleted_remote = 1, deleted_at = COALESCE(deleted_at, ?) WHERE id = ?",
                    (now, remote.id),
                )
            if old["status"] == remote.status:
                return False
            self._history(c, remote.id, remote.status, fields["progress"])
            return True

    def mark_deleted(self, video_id: str, *, local_files_deleted: bool) -> None:
        """The backend copy is gone (we deleted it); archived files stay unless the flag says so."""
        now = self._now()
        with self._tx(video_id) as c:
            old = c.execute("SELECT status, progress FROM jobs WHERE id = ?", (video_id,)).fetchone()
            if old is None:
                return
            c.execute(
                "UPDATE jobs SET status = 'deleted', deleted_remote = 1, deleted_at = ?, "
                "local_files_deleted = CASE WHEN ? = 1 THEN 1 ELSE local_files_deleted END, updated_at = ? WHERE id = ?",
                (now, int(local_files_deleted), now, video_id),
            )
            if old["status"] != "deleted":
                self._history(c, video_id, "deleted", old["progress"])

    # -- reading jobs ---------------------------------------------------------------------------

    def _records(self, rows: builtins.list[Row]) -> builtins.list[JobRecord]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        marks = ", ".join("?" for _ in ids)
        history: dict[str, builtins.list[StatusEvent]] = {i: [] for i in ids}
        for h in self._rows(f"SELECT * FROM status_history WHERE video_id IN ({marks}) ORDER BY at, id", ids):
            history[h["video_id"]].append(StatusEvent(status=h["status"], progress=h["progress"], at=h["at"]))
        assets: dict[str, builtins.list[StoredAsset]] = {i: [] for i in ids}
        for a in self._rows(f"SELECT * FROM assets WHERE video_id IN ({marks}) ORDER BY variant", ids):
            assets[a["video_id"]].append(asset_from_row(a))
        return [record_from_row(r, history[r["id"]], assets[r["id"]]) for r in rows]

    def get(self, video_id: str) -> JobRecord | None:
        found = self._records(self._rows("SELECT * FROM jobs WHERE id = ?", (video_id,)))
        return found[0] if found else None

    def list_jobs(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        since: int | None = None,
        text: str | None = None,
        limit: int = 20,
        after: str | None = None,
        order: Literal["asc", "desc"] = "desc",
        include_deleted: bool = False,
    ) -> tuple[builtins.list[JobRecord], str | None]:
        """One page of jobs, newest first by default; pass the returned id as `after` for the next.

        The cursor is keyset on (created_at, id), so jobs added between pages neither repeat
        nor shift the next page. Jobs deleted on the backend are hidden unless
        `include_deleted` — except those whose archived files are kept (they are local-only).
        """
        if order not in ("asc", "desc"):
            raise InvalidInput(f"Unknown order {str(order)[:20]!r}.", fix="Use 'asc' or 'desc'.")
        limit = max(1, min(int(limit), 100))
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if status:
            where.append("status = ?")
            params.append(status)
        elif not include_deleted:
            where.append(
                "NOT (status = 'deleted' AND NOT EXISTS (SELECT 1 FROM assets a WHERE a.video_id = jobs.id))"
            )
        if model:
            where.append("model = ?")
            params.append(model)
        if since is not None:
            where.append("created_at >= ?")
            params.append(int(since))
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(prompt_given LIKE ? ESCAPE '\\' OR prompt_sent LIKE ? ESCAPE '\\' OR id = ?)")
            params += [pattern, pattern, text]
        if after:
            pos = self._rows("SELECT created_at, id FROM jobs WHERE id = ?", (after,))
            if not pos:
                raise InvalidInput(
                    "The `after` cursor is not a job this library knows.",
                    fix="Pass the `next_after` value of the previous page, or omit `after` to start over.",
                )
            cmp = "<" if order == "desc" else ">"
            where.append(f"(created_at {cmp} ? OR (created_at = ? AND id {cmp} ?))")
            params += [pos[0]["created_at"], pos[0]["created_at"], after]
        direction = "DESC" if order == "desc" else "ASC"
        sql = "SELECT * FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY created_at {direction}, id {direction} LIMIT ?"
        rows = self._rows(sql, [*params, limit + 1])
        more = len(rows) > limit
        page = self._records(rows[:limit])
        return page, (page[-1].id if more else None)

    def unfinished(self) -> builtins.list[JobRecord]:
        """Jobs still running on the backend (not terminal, not deleted): the watcher's to-do list."""
        return self._records(
            self._rows(
                f"SELECT * FROM jobs WHERE status NOT IN ({_TERMINAL_SQL}) AND deleted_remote = 0 "
                "ORDER BY created_at, id"
            )
        )

    def unarchived(self) -> builtins.list[JobRecord]:
        """Completed jobs made here whose MP4 is not archived (a server died mid-download, say)."""
        return self._records(
            self._rows(
                "SELECT * FROM jobs WHERE status = 'completed' AND kind != 'external' AND deleted_remote = 0 "
                "AND local_files_deleted = 0 AND (expires_at IS NULL OR expires_at > ?) AND NOT EXISTS "
                "(SELECT 1 FROM assets a WHERE a.video_id = jobs.id AND a.variant = 'video') "
                "ORDER BY created_at, id",
                (self._now(),),
            )
        )

    # -- assets -----------------------------------------------------------------------------

    def add_asset(
        self, video_id: str, variant: str, rel_path: str, size: int, sha256: str, derived: bool = False
    ) -> None:
        if variant not in VARIANT_EXT:
            raise InvalidInput(
                f"Unknown variant {variant[:40]!r}.", fix=f"Use one of: {', '.join(VARIANT_EXT)}."
            )
        with self._tx(video_id) as c:
            c.execute(
                "INSERT INTO assets(video_id, variant, path, size, sha256, derived, archived_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(video_id, variant) DO UPDATE SET path = excluded.path, "
                "size = excluded.size, sha256 = excluded.sha256, derived = excluded.derived, "
                "archived_at = excluded.archived_at",
                (video_id, variant, rel_path, int(size), sha256, int(derived), self._now()),
            )

    def remove_assets(self, video_id: str, variant: str | None = None) -> builtins.list[StoredAsset]:
        """Forget archived files (all, or one variant); returns them so the caller can unlink them."""
        with self._tx(video_id) as c:
            sql, params = "FROM assets WHERE video_id = ?", [video_id]
            if variant:
                sql, params = sql + " AND variant = ?", [*params, variant]
            removed = [asset_from_row(r) for r in c.execute("SELECT * " + sql, params).fetchall()]
            c.execute("DELETE " + sql, params)
        return removed

    def assets(self, video_id: str) -> builtins.list[StoredAsset]:
        return [
            asset_from_row(r)
            for r in self._rows("SELECT * FROM assets WHERE video_id = ? ORDER BY variant", (video_id,))
        ]

"""The PostgreSQL store under the ledger (`SORA_MCP_DATABASE_URL=postgresql://...`).

A synchronous psycopg 3 connection pool: the ledger's API is synchronous (one short
transaction per call, called directly from async code and from worker threads), so a sync
pool keeps every caller as it is; each call costs one round trip to the database. Writes that
concern one job (or one pending create) take a transaction-scoped advisory lock on its key, so
a read-then-write such as "insert a history row when the status changed" stays exact when
several instances write the same job at once, as SQLite's single writer makes it there;
writes to different jobs run in parallel. Schema steps are serialised by another advisory
lock and versioned in the table `sora_mcp_schema`.

Errors never carry the URL's password; an unreachable database is `LedgerUnavailable`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

from sora_mcp.errors import ConfigError, LedgerUnavailable
from sora_mcp.library.sql import POSTGRES, Cursor, Executor, Params, Row

_MAX_CONNECTIONS = 8
_SCHEMA_LOCK = "sora-mcp:schema"
_INSTALL_FIX = "Install the PostgreSQL extra: pip install 'sora-mcp[postgres]'."
_SETUP_FIX = (
    "Give the user in SORA_MCP_DATABASE_URL a database it owns (CREATE DATABASE sora OWNER that_user), "
    "or the right to create tables in its schema, then start again."
)
_UNREACHABLE_FIX = (
    "Check that PostgreSQL is running and that SORA_MCP_DATABASE_URL (host, port, database, user, "
    "password) is right, then try again."
)


class _Executor:
    """Runs the ledger's SQL on one pooled connection, in the PostgreSQL dialect."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = (), /) -> Cursor:
        # Always a sequence (even empty): psycopg then reads '%%' in the translated text as '%'.
        return self._conn.execute(POSTGRES.query(sql), tuple(params))


class PgDatabase:
    dialect = POSTGRES

    def __init__(self, url: str, timeout_s: float) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ConfigError(
                "SORA_MCP_DATABASE_URL names a PostgreSQL database, but psycopg is not installed.",
                fix=_INSTALL_FIX,
            ) from None
        self._psycopg = psycopg
        self._password = unquote(urlsplit(url).password or "")
        connect_args: dict[str, Any] = {"connect_timeout": max(2, int(timeout_s))}
        # One direct connection first: its error says why (refused, auth, no such database),
        # where a pool would only time out.
        try:
            psycopg.connect(url, **connect_args).close()
        except psycopg.Error as exc:
            raise LedgerUnavailable(
                f"The ledger database could not be reached ({self._describe(exc)}).", fix=_UNREACHABLE_FIX
            ) from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=_MAX_CONNECTIONS,
            kwargs={"autocommit": True, "row_factory": dict_row, **connect_args},
            timeout=timeout_s,
            check=ConnectionPool.check_connection,
            open=False,
            name="sora-mcp-ledger",
        )
        self._pool.open(wait=True, timeout=timeout_s)

    def _describe(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if self._password:
            text = text.replace(self._password, "***")
        return text[:300]

    @contextmanager
    def _errors(self) -> Iterator[None]:
        from psycopg_pool import PoolTimeout

        try:
            yield
        except (self._psycopg.OperationalError, PoolTimeout) as exc:
            raise LedgerUnavailable(
                f"The ledger database is unreachable ({self._describe(exc)}).", fix=_UNREACHABLE_FIX
            ) from None

    @contextmanager
    def tx(self, key: str | None = None) -> Iterator[Executor]:
        with self._errors(), self._pool.connection() as conn, conn.transaction():
            c = _Executor(conn)
            if key is not None:
                c.execute("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", ("sora-mcp:" + key,))
            yield c

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        with self._errors(), self._pool.connection() as conn:
            return _Executor(conn).execute(sql, params).fetchall()

    @contextmanager
    def schema_tx(self) -> Iterator[tuple[Executor, int]]:
        try:
            with self.tx(_SCHEMA_LOCK) as c:
                c.execute("CREATE TABLE IF NOT EXISTS sora_mcp_schema (version INTEGER NOT NULL)")
                row = c.execute("SELECT version FROM sora_mcp_schema").fetchone()
                yield c, int(row["version"]) if row else 0
        except self._psycopg.Error as exc:  # e.g. no right to create tables
            raise ConfigError(
                f"The ledger's tables could not be set up in the database ({self._describe(exc)}).",
                fix=_SETUP_FIX,
            ) from None

    def set_schema_version(self, c: Executor, version: int) -> None:
        c.execute("DELETE FROM sora_mcp_schema")
        c.execute("INSERT INTO sora_mcp_schema(version) VALUES (?)", (int(version),))

    def schema_version(self) -> int:
        with self.schema_tx() as (_, version):
            return version

    def close(self) -> None:
        self._pool.close()

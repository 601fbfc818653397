"""The ledger's schema history: numbered steps applied in order, the same list on both stores.

The version lives in `PRAGMA user_version` on SQLite and in the table `sora_mcp_schema` on
PostgreSQL (`sql.py`/`pg.py`). Each step runs in one transaction together with the version
bump, under the store's write (or schema) lock, so a crash mid-migration leaves the previous
version intact and two processes opening the same ledger never migrate it twice. Steps are
written in SQLite's types; `SqlDialect.schema` translates them for PostgreSQL. Append new steps;
never edit a released one.
"""

from __future__ import annotations

from sora_mcp.errors import ConfigError
from sora_mcp.library.sql import Database

# Version 1: the first release's tables.
_V1 = [
    """CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        backend TEXT,
        model TEXT,
        size TEXT,
        seconds TEXT,
        prompt_given TEXT,
        prompt_sent TEXT,
        augmentation TEXT,
        input_reference_sha256 TEXT,
        remixed_from TEXT,
        extended_from TEXT,
        kind TEXT NOT NULL DEFAULT 'create',
        status TEXT NOT NULL,
        raw_status TEXT,
        progress INTEGER NOT NULL DEFAULT 0,
        error_code TEXT,
        error_message TEXT,
        created_at INTEGER,
        completed_at INTEGER,
        expires_at INTEGER,
        cost_usd REAL,
        cost_note TEXT,
        updated_at INTEGER
    )""",
    """CREATE TABLE status_history (
        video_id TEXT NOT NULL,
        status TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        at INTEGER NOT NULL
    )""",
    "CREATE INDEX status_history_video ON status_history(video_id, at)",
    """CREATE TABLE assets (
        video_id TEXT NOT NULL,
        variant TEXT NOT NULL,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        derived INTEGER NOT NULL DEFAULT 0,
        archived_at INTEGER,
        PRIMARY KEY (video_id, variant)
    )""",
]

# Version 2: crash-safe creates, poll counts, deletion flags, a stable list order.
_V2 = [
    "ALTER TABLE jobs ADD COLUMN base_url_host TEXT",
    "ALTER TABLE jobs ADD COLUMN edited_from TEXT",
    "ALTER TABLE jobs ADD COLUMN idempotency_key TEXT",
    "ALTER TABLE jobs ADD COLUMN polls INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jobs ADD COLUMN deleted_remote INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE jobs ADD COLUMN deleted_at INTEGER",
    "ALTER TABLE jobs ADD COLUMN local_files_deleted INTEGER NOT NULL DEFAULT 0",
    # When this ledger first saw the job (local clock): spend is counted by it.
    "ALTER TABLE jobs ADD COLUMN recorded_at INTEGER",
    "UPDATE jobs SET recorded_at = COALESCE(created_at, updated_at, 0) WHERE recorded_at IS NULL",
    # The keyset cursor orders by (created_at, id), so created_at must never be NULL.
    "UPDATE jobs SET created_at = COALESCE(recorded_at, 0) WHERE created_at IS NULL",
    "CREATE INDEX jobs_created ON jobs(created_at, id)",
    "CREATE INDEX jobs_status ON jobs(status)",
    """CREATE TABLE pending_creates (
        key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        meta TEXT,
        sent_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 1,
        resolved_video_id TEXT
    )""",
]

# Version 3: a stable order for status history on any store (SQLite's implicit rowid has no
# PostgreSQL twin), and claims: work that one instance among several does (archive a job, ...).
_V3 = [
    """CREATE TABLE status_history_v3 (
        id INTEGER PRIMARY KEY,
        video_id TEXT NOT NULL,
        status TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        at INTEGER NOT NULL
    )""",
    (
        "INSERT INTO status_history_v3(video_id, status, progress, at) "
        "SELECT video_id, status, progress, at FROM status_history ORDER BY at, rowid"
    ),
    "DROP TABLE status_history",
    "ALTER TABLE status_history_v3 RENAME TO status_history",
    "CREATE INDEX status_history_video ON status_history(video_id, at)",
    # expires_at: unix seconds (fractional) on the claiming instance's clock.
    """CREATE TABLE claims (
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        owner TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (kind, key)
    )""",
]

# Version 4: users (HTTP mode with a tokens file or OIDC). Each job has an owner, the user whose
# request made it; jobs from before, and jobs seen on the backend but not made here, belong to
# the local owner ('local', see sora_mcp.principal), who is the only user of stdio and the CLI.
_V4 = [
    "ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT 'local'",
    "CREATE INDEX jobs_owner_created ON jobs(owner, created_at, id)",
]

# Version 5: webhook deliveries already accepted, shared by every instance (replays refused
# wherever they land); expires_at as in claims.
_V5 = [
    """CREATE TABLE deliveries_seen (
        key TEXT PRIMARY KEY,
        expires_at REAL NOT NULL
    )""",
]

MIGRATIONS: list[list[str]] = [_V1, _V2, _V3, _V4, _V5]
LATEST = len(MIGRATIONS)


def migrate(db: Database) -> int:
    """Bring the database to `LATEST`; return the version it was at before."""
    start = db.schema_version()
    if start > LATEST:
        raise ConfigError(
            f"The ledger was written by a newer sora-mcp (schema v{start}; this one knows v{LATEST}).",
            fix="Upgrade sora-mcp, or point SORA_MCP_DATA_DIR (or SORA_MCP_DATABASE_URL) elsewhere.",
        )
    while True:
        # The version is re-read under the lock: another process may have migrated meanwhile.
        with db.schema_tx() as (c, version):
            if version >= LATEST:
                return start
            for statement in MIGRATIONS[version]:
                c.execute(db.dialect.schema(statement))
            db.set_schema_version(c, version + 1)

"""The engine's job store: one SQLite file (WAL) in the data dir, so jobs survive a restart.

Each job is one row holding its JSON record; SQLite transactions make every write atomic.
Rendered files live next to it under `videos/<id>/`. One connection guarded by a lock is
shared by the event loop and the render threads: every operation is a sub-millisecond query.

Ids have one shape (`is_video_id`), checked before any path is built from one: a request for
`..` or `a/b` finds no job and touches no file. `sweep_partials` removes the temp files a killed
render or upload left (`.<token>.part.video.mp4`, `input_reference.png.part`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# What `new_video_id` makes: the only ids this engine ever has.
_VIDEO_ID = re.compile(r"video_[0-9a-f]{32}")

Kind = Literal["create", "remix", "extension", "edit"]
Status = Literal["queued", "in_progress", "completed", "failed"]

# The fields of OpenAI's `VideoResource`, in its order; nothing else goes on the wire.
PUBLIC_FIELDS: tuple[str, ...] = (
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "prompt",
    "size",
    "seconds",
    "remixed_from_video_id",
    "error",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    created_ts REAL NOT NULL
);
"""


def new_video_id() -> str:
    return "video_" + secrets.token_hex(16)


def is_video_id(value: object) -> bool:
    """True for ids of the shape this engine makes (so safe as a folder name)."""
    return isinstance(value, str) and _VIDEO_ID.fullmatch(value) is not None


def is_partial(name: str) -> bool:
    """A temp file name of an unfinished write (renderer outputs, uploaded references)."""
    return name.endswith(".part") or (name.startswith(".") and ".part." in name)


@dataclass
class EngineJob:
    """A job as the engine keeps it: the public resource plus what the worker needs to render it."""

    id: str
    model: str
    size: str
    seconds: str
    prompt: str
    seed: int
    kind: Kind = "create"
    status: Status = "queued"
    progress: int = 0
    created_at: int = field(default_factory=lambda: int(time.time()))
    completed_at: int | None = None
    expires_at: int | None = None
    expires_ts: float | None = None  # exact expiry (expires_at is whole seconds)
    remixed_from_video_id: str | None = None
    source_id: str | None = None  # remix / extension / edit source
    reference_file: str | None = None  # name of the input reference inside the job dir
    source_file: str | None = None  # linked copy of the source MP4 (extension / edit)
    error: dict[str, str] | None = None
    planned_failure: dict[str, str] | None = None  # decided at creation by the fault knobs

    def public(self) -> dict[str, Any]:
        body = {name: getattr(self, name, None) for name in PUBLIC_FIELDS if name != "object"}
        body["object"] = "video"
        return {name: body[name] for name in PUBLIC_FIELDS}

    def expired(self, now: float | None = None) -> bool:
        return self.expires_ts is not None and (time.time() if now is None else now) >= self.expires_ts

    @classmethod
    def from_json(cls, text: str) -> EngineJob:
        data = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))


class JobStore:
    """Persistent jobs + idempotency keys + the on-disk folder of each job's files."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.videos_dir = data_dir / "videos"
        self.videos_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(data_dir / "engine.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def job_dir(self, video_id: str) -> Path:
        if not is_video_id(video_id):
            raise ValueError(f"not an engine video id: {video_id[:80]!r}")
        return self.videos_dir / video_id

    def sweep_partials(self) -> int:
        """Remove leftover `.part` temp files under `videos/` (call before the worker starts)."""
        removed = 0
        for dirpath, dirnames, filenames in os.walk(self.videos_dir, followlinks=False):
            for name in filenames:
                if is_partial(name):
                    try:
                        os.unlink(os.path.join(dirpath, name))
                        removed += 1
                    except OSError:
                        pass
        return removed

    def insert(self, job: EngineJob) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, body) VALUES (?, ?, ?)", (job.id, job.status, job.to_json())
            )

    def get(self, video_id: str) -> EngineJob | None:
        if not is_video_id(video_id):
            return None
        with self._lock:
            row = self._db.execute("SELECT body FROM jobs WHERE id = ?", (video_id,)).fetchone()
        return EngineJob.from_json(row[0]) if row else None

    def update(self, video_id: str, **changes: Any) -> EngineJob | None:
        """Read-modify-write one job atomically; None when it was deleted meanwhile."""
        with self._lock:
            job = self.get(video_id)
            if job is None:
                return None
            job = dataclasses.replace(job, **changes)
            self._db.execute(
                "UPDATE jobs SET status = ?, body = ? WHERE id = ?", (job.status, job.to_json(), video_id)
            )
            return job

    def delete(self, video_id: str) -> bool:
        """Remove a known job's row and its own folder; an unknown or malformed id changes nothing."""
        if not is_video_id(video_id):
            return False
        with self._lock:
            cursor = self._db.execute("DELETE FROM jobs WHERE id = ?", (video_id,))
            if cursor.rowcount == 0:
                return False
            self._db.execute("DELETE FROM idempotency WHERE job_id = ?", (video_id,))
        shutil.rmtree(self.job_dir(video_id), ignore_errors=True)
        return True

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])

    def page(
        self, *, after: str | None, limit: int, order: Literal["asc", "desc"]
    ) -> tuple[list[EngineJob], bool]:
        """One page in creation order; raises KeyError when `after` is not a known id."""
        with self._lock:
            bound: int | None = None
            if after is not None:
                if not is_video_id(after):
                    raise KeyError(after)
                row = self._db.execute("SELECT seq FROM jobs WHERE id = ?", (after,)).fetchone()
                if row is None:
                    raise KeyError(after)
                bound = int(row[0])
            op, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
            where = f"WHERE seq {op} ?" if bound is not None else ""
            params: tuple[int, ...] = (bound, limit + 1) if bound is not None else (limit + 1,)
            rows = self._db.execute(
                f"SELECT body FROM jobs {where} ORDER BY seq {direction} LIMIT ?", params
            ).fetchall()
        jobs = [EngineJob.from_json(row[0]) for row in rows]
        return jobs[:limit], len(jobs) > limit

    def unfinished(self) -> list[EngineJob]:
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM jobs WHERE status IN ('queued', 'in_progress') ORDER BY seq"
            ).fetchall()
        return [EngineJob.from_json(row[0]) for row in rows]

    def idempotent_job(self, key: str, max_age_s: float) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT job_id, created_ts FROM idempotency WHERE key = ?", (key,)
            ).fetchone()
        if row is None or time.time() - float(row[1]) > max_age_s:
            return None
        return str(row[0])

    def remember_key(self, key: str, video_id: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO idempotency (key, job_id, created_ts) VALUES (?, ?, ?)",
                (key, video_id, time.time()),
            )

"""The ledger on real SQLite files and a real PostgreSQL database (each test that is not about one
store runs on both): records, history, listing, cursor, migration, concurrency, spend."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sora_mcp.errors import ConfigError, InvalidInput, LedgerUnavailable
from sora_mcp.library import Ledger
from sora_mcp.library.migrations import LATEST
from sora_mcp.models import JobError, RemoteVideo


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def remote(
    vid: str, status: str = "queued", progress: int = 0, created_at: int = 1_000, **kw: object
) -> RemoteVideo:
    return RemoteVideo(
        id=vid,
        status=status,
        progress=progress,
        created_at=created_at,
        model=kw.pop("model", "sora-2"),
        size="1280x720",
        seconds="4",
        **kw,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """Where a ledger lives: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "data" / "ledger.sqlite3"
    return str(request.getfixturevalue("database_url"))


@pytest.fixture
def ledger(location: Path | str) -> Ledger:
    led = Ledger(location, clock=Clock(1_700_000_000))
    yield led
    led.close()


def test_record_update_history_and_polls(ledger: Ledger) -> None:
    ledger.record_job(
        remote("v1"),
        backend="engine",
        prompt_given="a cat",
        prompt_sent="a cat, golden hour",
        augmentation={"lighting": "golden hour"},
        input_reference_sha256="ab" * 32,
        kind="remix",
        source_id="v0",
        cost_usd=0.4,
        cost_note="sora-2 $0.10/s",
        idempotency_key="k1",
    )
    assert ledger.update_status(remote("v1", "in_progress", 10)) is True
    assert ledger.update_status(remote("v1", "in_progress", 55), polled=True) is False
    assert ledger.update_status(remote("v1", "in_progress", 55), polled=True) is False
    failed = remote("v1", "failed", 55, error=JobError(code="moderation_blocked", message="no"))
    assert ledger.update_status(failed) is True
    job = ledger.get("v1")
    assert job is not None
    assert [h.status for h in job.history] == ["queued", "in_progress", "failed"]
    assert job.polls == 2 and job.progress == 55 and job.remixed_from == "v0" and job.kind == "remix"
    assert job.augmentation == {"lighting": "golden hour"} and job.prompt_sent == "a cat, golden hour"
    assert (job.error_code, job.cost_usd, job.idempotency_key) == ("moderation_blocked", 0.4, "k1")
    assert ledger.get("nope") is None


def test_unknown_job_from_backend_is_stored_as_external(ledger: Ledger) -> None:
    assert ledger.update_status(remote("ext", "completed", 100, prompt="someone else's")) is True
    job = ledger.get("ext")
    assert job is not None and job.kind == "external" and job.prompt_sent == "someone else's"
    assert job.polls == 0  # seen in a list, not polled
    ledger.update_status(remote("ext2", "in_progress", 5), polled=True)
    assert ledger.get("ext2").polls == 1  # first seen by a poll: that read counts
    # A later record_job (our create answer arriving after a list) claims it.
    ledger.record_job(remote("ext", "completed", 100), backend="engine", prompt_given="mine", kind="create")
    job = ledger.get("ext")
    assert job is not None and job.kind == "create" and job.prompt_given == "mine"
    assert [h.status for h in job.history] == ["completed"]


def test_list_filters(ledger: Ledger) -> None:
    ledger.record_job(remote("a", "completed", created_at=100), prompt_given="sunset over the sea 100%")
    ledger.record_job(remote("b", "queued", created_at=200, model="sora-2-pro"), prompt_given="a red car")
    ledger.record_job(remote("c", "failed", created_at=300), prompt_given="SUNSET in the city")
    ids = lambda page: [j.id for j in page[0]]
    assert ids(ledger.list_jobs()) == ["c", "b", "a"]
    assert ids(ledger.list_jobs(order="asc")) == ["a", "b", "c"]
    assert ids(ledger.list_jobs(status="completed")) == ["a"]
    assert ids(ledger.list_jobs(model="sora-2-pro")) == ["b"]
    assert ids(ledger.list_jobs(since=200)) == ["c", "b"]
    assert ids(ledger.list_jobs(text="sunset")) == ["c", "a"]
    assert ids(ledger.list_jobs(text="100%")) == ["a"]
    assert ids(ledger.list_jobs(text="_")) == []  # LIKE wildcards are literal
    with pytest.raises(InvalidInput, match="after"):
        ledger.list_jobs(after="no-such-id")


def test_deleted_jobs_hidden_unless_files_kept(ledger: Ledger) -> None:
    ledger.record_job(remote("kept", "completed", created_at=1))
    ledger.record_job(remote("gone", "completed", created_at=2))
    ledger.add_asset("kept", "video", "library/kept/video.mp4", 10, "00" * 32)
    ledger.mark_deleted("kept", local_files_deleted=False)
    ledger.mark_deleted("gone", local_files_deleted=True)
    assert [j.id for j in ledger.list_jobs()[0]] == ["kept"]
    assert [j.id for j in ledger.list_jobs(include_deleted=True)[0]] == ["gone", "kept"]
    kept = ledger.get("kept")
    assert kept is not None and kept.deleted_remote and kept.status == "deleted" and kept.asset("video")
    assert kept.history[-1].status == "deleted"
    gone = ledger.get("gone")
    assert gone is not None and gone.local_files_deleted


def test_cursor_is_stable_across_inserts_between_pages(ledger: Ledger) -> None:
    for i in range(7):  # two share a timestamp, so the id breaks the tie
        ledger.record_job(remote(f"j{i}", created_at=1000 + min(i, 5) * 10))
    seen: list[str] = []
    page, after = ledger.list_jobs(limit=3)
    seen += [j.id for j in page]
    extra = 0
    while after:
        extra += 1  # new jobs arrive between pages: newer ones, and one tying the cursor's timestamp
        ledger.record_job(remote(f"new{extra}", created_at=5000 + extra))
        ledger.record_job(remote(f"j0tie{extra}", created_at=1000))
        page, after = ledger.list_jobs(limit=3, after=after)
        seen += [j.id for j in page]
    originals = [s for s in seen if s.startswith("j") and "tie" not in s]
    assert sorted(originals) == [f"j{i}" for i in range(7)]
    assert len(seen) == len(set(seen)), "a job was listed twice"
    assert not any(s.startswith("new") for s in seen)


def test_unfinished_and_pending_creates(ledger: Ledger, tmp_path: Path) -> None:
    ledger.record_job(remote("run", "in_progress"))
    ledger.record_job(remote("done", "completed"))
    ledger.record_job(remote("del", "queued"))
    ledger.mark_deleted("del", local_files_deleted=False)
    assert [j.id for j in ledger.unfinished()] == ["run"]

    ledger.record_pending("k1", "fp", {"prompt": "x"})
    ledger.record_pending("k1", "fp", {"prompt": "x"})  # a retry of the same create
    ledger.record_pending("k2", "fp2", {})
    pending = ledger.unresolved_pending(600)
    assert [(p["key"], p["attempts"], p["meta"]) for p in pending] == [
        ("k1", 2, {"prompt": "x"}),
        ("k2", 1, {}),
    ]
    ledger.resolve_pending("k1", "run")
    ledger.drop_pending("k2")
    assert ledger.unresolved_pending(600) == []
    # Survives reopening (another process, or after a crash).
    again = Ledger(ledger.location)
    assert [j.id for j in again.unfinished()] == ["run"]
    again.close()


def test_spend_summary_by_day_and_month(location: Path | str) -> None:
    clock = Clock(datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp())
    led = Ledger(location, clock=clock)
    led.record_job(remote("feb"), cost_usd=1.0)
    clock.t = datetime(2026, 3, 15, 23, 59, tzinfo=UTC).timestamp()
    led.record_job(remote("mar14"), cost_usd=0.5)
    clock.t = datetime(2026, 3, 16, 0, 1, tzinfo=UTC).timestamp()
    led.record_job(remote("today1"), cost_usd=0.25)
    led.record_job(remote("today-unknown"), cost_usd=None)
    led.record_job(remote("today-failed", "failed"), cost_usd=2.0)
    led.update_status(remote("someone-else", "completed"))
    clock.t = datetime(2026, 3, 16, 9, tzinfo=UTC).timestamp()
    s = led.spend_summary()
    # 'feb' was recorded March 1st: it counts for the month.
    assert (s["today_usd"], s["month_usd"], s["total_usd"]) == (0.25, 1.75, 1.75)
    assert (s["today_jobs"], s["today_unknown_cost_jobs"]) == (3, 1)
    april = led.spend_summary(now=int(datetime(2026, 4, 2, tzinfo=UTC).timestamp()))
    assert (april["today_usd"], april["month_usd"], april["total_usd"]) == (0, 0, 1.75)
    assert led.spent_since(int(datetime(2026, 3, 15, tzinfo=UTC).timestamp())) == 0.75
    led.close()


def test_summary_counts_assets_and_recent(ledger: Ledger) -> None:
    for i in range(7):
        ledger.record_job(
            remote(f"s{i}", "completed" if i % 2 else "queued", created_at=i), prompt_given=f"p{i}"
        )
    ledger.add_asset("s1", "video", "library/s1/video.mp4", 1000, "aa" * 32)
    ledger.add_asset("s1", "thumbnail", "library/s1/thumbnail.webp", 24, "bb" * 32, derived=True)
    summary = ledger.summary()
    assert summary["jobs"] == 7 and summary["by_status"] == {"completed": 3, "queued": 4}
    assert (summary["assets"], summary["bytes_on_disk"]) == (2, 1024)
    assert [r["id"] for r in summary["recent"]] == ["s6", "s5", "s4", "s3", "s2"]
    assert [a.derived for a in ledger.assets("s1")] == [True, False]  # thumbnail, video
    assert [a.variant for a in ledger.remove_assets("s1", "thumbnail")] == ["thumbnail"]
    assert [a.variant for a in ledger.assets("s1")] == ["video"]
    with pytest.raises(InvalidInput):
        ledger.add_asset("s1", "poster", "x", 1, "c")


V1_SCHEMA = """
CREATE TABLE jobs (id TEXT PRIMARY KEY, backend TEXT, model TEXT, size TEXT, seconds TEXT,
  prompt_given TEXT, prompt_sent TEXT, augmentation TEXT, input_reference_sha256 TEXT,
  remixed_from TEXT, extended_from TEXT, kind TEXT NOT NULL DEFAULT 'create', status TEXT NOT NULL,
  raw_status TEXT, progress INTEGER NOT NULL DEFAULT 0, error_code TEXT, error_message TEXT,
  created_at INTEGER, completed_at INTEGER, expires_at INTEGER, cost_usd REAL, cost_note TEXT,
  updated_at INTEGER);
CREATE TABLE status_history (video_id TEXT NOT NULL, status TEXT NOT NULL,
  progress INTEGER NOT NULL DEFAULT 0, at INTEGER NOT NULL);
CREATE TABLE assets (video_id TEXT NOT NULL, variant TEXT NOT NULL, path TEXT NOT NULL,
  size INTEGER NOT NULL, sha256 TEXT NOT NULL, derived INTEGER NOT NULL DEFAULT 0,
  archived_at INTEGER, PRIMARY KEY (video_id, variant));
INSERT INTO jobs(id, backend, model, prompt_given, status, progress, created_at, cost_usd,
  updated_at, augmentation)
  VALUES ('old1', 'openai', 'sora-2', 'an old clip', 'completed', 100, 1650000000, 0.8,
  1650000100, '{"style":"noir"}');
INSERT INTO jobs(id, status, created_at, updated_at) VALUES ('old2', 'in_progress', NULL, 1650000200);
INSERT INTO status_history VALUES ('old1', 'queued', 0, 1650000000),
  ('old1', 'completed', 100, 1650000100);
INSERT INTO assets VALUES ('old1', 'video', 'library/old1/video.mp4', 1234, 'cd', 0, 1650000101);
PRAGMA user_version = 1;
"""


def test_v1_database_is_migrated_with_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.close()
    led = Ledger(path)
    old = led.get("old1")
    assert old is not None
    assert (old.prompt_given, old.cost_usd, old.polls, old.deleted_remote) == ("an old clip", 0.8, 0, False)
    assert old.augmentation == {"style": "noir"} and [h.status for h in old.history] == [
        "queued",
        "completed",
    ]
    assert old.asset("video") is not None and old.asset("video").size_bytes == 1234
    assert [j.id for j in led.unfinished()] == ["old2"]
    page, _ = led.list_jobs()
    assert [j.id for j in page] == ["old2", "old1"]  # old2's NULL created_at filled from updated_at
    led.record_pending("k", "fp", {})  # the v2 table exists
    led.update_status(remote("old1", "completed", 100), polled=True)
    assert led.get("old1").polls == 1
    led.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == LATEST


def test_newer_or_broken_ledger_is_refused_with_a_fix(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite3"
    sqlite3.connect(newer).execute("PRAGMA user_version = 99").connection.close()
    with pytest.raises(ConfigError, match="newer sora-mcp"):
        Ledger(newer)
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="could not be opened") as info:
        Ledger(junk)
    assert str(tmp_path) not in str(info.value) and info.value.fix


def test_two_ledgers_writing_concurrently_do_not_corrupt(location: Path | str) -> None:
    ledgers = [Ledger(location), Ledger(location)]
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        led = ledgers[n % 2]
        try:
            for i in range(60):
                vid = f"w{n}-{i}"
                led.record_job(remote(vid, created_at=i))
                led.update_status(remote(vid, "in_progress", 50, created_at=i), polled=True)
        except BaseException as exc:  # noqa: BLE001 - any failure in the thread must reach the assertion; pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    check = Ledger(location)
    assert check.summary()["by_status"] == {"in_progress": 240}
    assert all(j.polls == 1 and len(j.history) == 2 for j in check.unfinished())
    for led in [*ledgers, check]:
        led.close()
    if isinstance(location, Path):
        assert sqlite3.connect(location).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_same_job_written_by_two_instances_at_once_keeps_one_history(location: Path | str) -> None:
    """Two instances polling one job both see it complete: one history row, one 'changed'."""
    ledgers = [Ledger(location), Ledger(location)]
    for i in range(20):
        ledgers[0].record_job(remote(f"same{i}", "in_progress", 50))
    changed: list[bool] = []
    barrier = threading.Barrier(4)

    def poller(n: int) -> None:
        barrier.wait(10)
        for i in range(20):
            changed.append(ledgers[n % 2].update_status(remote(f"same{i}", "completed", 100), polled=True))

    threads = [threading.Thread(target=poller, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert changed.count(True) == 20 and len(changed) == 80
    for i in range(20):
        job = ledgers[1].get(f"same{i}")
        assert [h.status for h in job.history] == ["in_progress", "completed"] and job.polls == 4
    for led in ledgers:
        led.close()


def test_postgres_ledger_refusals_name_the_problem(database_url: str) -> None:
    # A database migrated by a newer sora-mcp.
    import psycopg

    Ledger(database_url).close()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE sora_mcp_schema SET version = 99")
    with pytest.raises(ConfigError, match="newer sora-mcp"):
        Ledger(database_url)
    # Nothing listening there: a clear error that keeps the password out.
    password = database_url.split(":")[2].split("@")[0]
    port = int(database_url.rsplit(":", 1)[1].split("/")[0])
    dead = database_url.replace(f":{port}/", ":1/")
    with pytest.raises(LedgerUnavailable, match="could not be reached") as info:
        Ledger(dead, timeout_s=2)
    assert password not in str(info.value) and "SORA_MCP_DATABASE_URL" in (info.value.fix or "")
    # A user that may connect but not create tables (PostgreSQL 15's default for the public schema).
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        name = "limited_" + database_url.rsplit("/", 1)[1]
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'limited-pw'")
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    limited = admin_url.replace(f"sora:{password}@", f"{name}:limited-pw@")
    with pytest.raises(ConfigError, match="could not be set up") as setup:
        Ledger(limited)
    assert "permission denied" in str(setup.value) and "OWNER" in (setup.value.fix or "")
    wrong = database_url.replace(password, "wrong-password")
    with pytest.raises(LedgerUnavailable) as info:
        Ledger(wrong, timeout_s=2)
    assert "wrong-password" not in str(info.value) and password not in str(info.value)


def test_a_local_delete_mark_survives_the_backend_still_reporting_the_job(ledger: Ledger) -> None:
    # A backend that cannot delete (LiteLLM: 405) keeps listing the job as completed.
    ledger.update_status(RemoteVideo(id="stuck", status="completed", progress=100))
    ledger.mark_deleted("stuck", local_files_deleted=False)
    ledger.update_status(RemoteVideo(id="stuck", status="completed", progress=100))
    record = ledger.get("stuck")
    assert record is not None and record.status == "deleted"
    assert [j.id for j in ledger.list_jobs(status="deleted", include_deleted=True)[0]] == ["stuck"]

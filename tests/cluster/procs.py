"""A small cluster as operators run it: one standalone engine, N `sora-mcp serve --http` processes on one
PostgreSQL database and one shared data folder, and MCP clients over Streamable HTTP.

Everything binds 127.0.0.1; every process is a real subprocess started with the command a user
types. The engine's request log (its `/_engine/stats` admin route, on with `--enable-faults`
and a key) is what the tests count: creates, polls and downloads per job.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from pydantic import SecretStr

from sora_mcp.config import Settings
from tests.engine.engine_helpers import EngineCommand
from tests.hardening.runs.common import SECRET_KEY
from tests.hardening.runs.serve_proc import ServeProcess, serve_env

ENGINE_KEY = SECRET_KEY  # serve_env hands the instances this key
# Long next to the load-induced delays on a busy machine, so the poll bound below is tight: two
# instances polling on their own would pass it for any job living more than a few seconds.
POLL_AFTER_MS = 2000
VARIANTS = ("video", "thumbnail")
# The single SORA_MCP_AUTH_TOKEN (it acts as the local owner, an admin: sees every job) ...
TOKEN = "cluster-test-token-" + "x" * 24
# ... and the users of a tokens file (issue #23 item 1), made with `sora-mcp users add`.
USER_COUNT = int(os.environ.get("SORA_MCP_CLUSTER_USERS", "4"))


def add_users(settings: Settings, tokens_file: Path, count: int) -> list[tuple[str, str]]:
    """`sora-mcp users add userN --tokens-file PATH` for each user, as an operator runs it: (name, token)."""
    users = []
    for n in range(count):
        name = f"user{n}"
        done = subprocess.run(
            [sys.executable, "-m", "sora_mcp", "users", "add", name, "--tokens-file", str(tokens_file)],
            env=serve_env(settings),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        users.append((name, done.stdout.strip()))
    return users


def instance_env(database_url: str, tokens_file: Path) -> dict[str, str]:
    return {
        "SORA_MCP_DATABASE_URL": database_url,
        "SORA_MCP_AUTH_TOKEN": TOKEN,
        "SORA_MCP_TOKENS_FILE": str(tokens_file),
        "SORA_MCP_ARCHIVE_VARIANTS": ",".join(VARIANTS),
    }


class Cluster:
    def __init__(self, root: Path, database_url: str, *, instances: int = 2, render_workers: int = 8) -> None:
        self.root = root
        self.database_url = database_url
        self.data_dir = root / "shared-data"  # one volume every instance mounts
        self.data_dir.mkdir(parents=True)
        (root / "engine").mkdir()
        self.engine = EngineCommand(
            root / "engine",
            "--enable-faults",
            SORA_ENGINE_API_KEY=ENGINE_KEY,
            SORA_ENGINE_RENDER_WORKERS=str(render_workers),
            SORA_ENGINE_POLL_AFTER_MS=str(POLL_AFTER_MS),
        )
        self.settings = Settings(
            base_url=self.base_url, data_dir=self.data_dir, api_key=SecretStr(ENGINE_KEY)
        )
        self.instances: list[ServeProcess] = []
        try:
            tokens_file = root / "tokens.toml"  # one file every instance reads (a shared config volume)
            self.users = add_users(self.settings, tokens_file, USER_COUNT)
            env = instance_env(database_url, tokens_file)
            for _ in range(instances):
                self.instances.append(ServeProcess(self.settings, "http", env=env, args=("--stateless",)))
        except BaseException:
            self.close()
            raise

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.engine.port}/v1"

    def _engine_get(self, path: str) -> Any:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.engine.port}{path}", headers={"Authorization": f"Bearer {ENGINE_KEY}"}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def requests(self) -> list[tuple[str, str, int]]:
        """The engine's request log: (method, path, status)."""
        return [tuple(r) for r in self._engine_get("/_engine/stats")["requests"]]

    def engine_job(self, video_id: str) -> dict[str, Any]:
        """Read straight from the engine (shows in its request log: read the log first)."""
        return dict(self._engine_get(f"/v1/videos/{video_id}"))

    def close(self) -> None:
        for inst in self.instances:
            inst.close()
        self.engine.stop()


@contextmanager
def cluster(root: Path, database_url: str, **kwargs: Any) -> Iterator[Cluster]:
    c = Cluster(root, database_url, **kwargs)
    try:
        yield c
    finally:
        c.close()


def client(url: str, token: str, mode: str, **options: Any) -> Client:
    """The official MCP Client over Streamable HTTP with a bearer token (`options`: e.g. elicitation_callback)."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    return Client(streamable_http_client(url, http_client=http), mode=mode, **options)


def counts(requests: list[tuple[str, str, int]]) -> tuple[int, Counter[str], Counter[str]]:
    """(creates, polls per job, downloads per job) from the engine's request log (its paths carry
    no query, so a job's downloads are all its variants together)."""
    creates = sum(1 for m, p, _ in requests if m == "POST" and p == "/v1/videos")
    polls: Counter[str] = Counter()
    downloads: Counter[str] = Counter()
    for method, path, _ in requests:
        parts = path.strip("/").split("/")
        if method != "GET" or len(parts) < 3 or parts[:2] != ["v1", "videos"]:
            continue
        if len(parts) == 3:
            polls[parts[2]] += 1
        elif len(parts) == 4 and parts[3] == "content":
            downloads[parts[2]] += 1
    return creates, polls, downloads


def poll_bound(job: dict[str, Any]) -> int:
    """The most GETs of one job the schedule allows, across every instance.

    Each poll is a turn held in the ledger until the next is due (POLL_AFTER_MS), so polls of a
    job are at least that far apart whoever makes them: its lifetime on the engine (whole
    seconds: +1 s for rounding) over the interval, +1 for the poll that sees it end and +1 for
    a turn taken over (an instance died, or its turn lapsed under load).
    """
    return math.ceil(lifetime(job) * 1000 / POLL_AFTER_MS) + 2


def lifetime(job: dict[str, Any]) -> int:
    """Seconds from create to completion on the engine (whole seconds, so +1)."""
    return int(job["completed_at"]) - int(job["created_at"]) + 1


SAMPLE_S = 0.2


class PollClock:
    """Reads the engine's request log every SAMPLE_S in a thread, so each poll gets a time window:
    it was answered after the previous read of the log began and before this read ended. The
    spacing of a job's polls can then be bounded from above, whatever the load delays."""

    def __init__(self, c: Cluster) -> None:
        self.c = c
        self.seen: list[tuple[float, float, tuple[str, str, int]]] = []  # (earliest, latest, request)
        self._last_start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def sample(self) -> None:
        start = time.monotonic()
        log = self.c.requests()
        end = time.monotonic()
        self.seen += [(self._last_start, end, r) for r in log[len(self.seen) :]]
        self._last_start = start

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sample()

    def gaps(self) -> dict[str, list[float]]:
        """Per job, the most time there can have been between consecutive polls."""
        times: dict[str, list[tuple[float, float]]] = {}
        for lo, hi, (method, path, _) in self.seen:
            parts = path.strip("/").split("/")
            if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "videos"]:
                times.setdefault(parts[2], []).append((lo, hi))
        return {v: [b[1] - a[0] for a, b in itertools.pairwise(t)] for v, t in times.items()}


def min_gap_s() -> float:
    """Polls of one job are a turn apart (POLL_AFTER_MS) whoever makes them; 0.1 s for the jitter
    between the schedule's clock and the lease's."""
    return POLL_AFTER_MS / 1000 - 0.1

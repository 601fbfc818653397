"""The long run's "engine surface" section: the engine attacked from outside, as a local user or a web page could.

1. The embedded engine of a default `sora-mcp serve` (no backend set), found from the process's
   listening sockets: keyless, wrong-key, foreign Host/Origin, text/plain fault injection,
   encoded-dot deletes, a 600 MB declared body. Every request must be refused; the user's jobs
   must still complete.
2. A keyed standalone `sora-mcp engine --enable-faults`: the same refusals for what the key does
   not excuse (hostile ids with the key, bad numbers, wrong content types, bodies past the cap,
   streamed without a length), then every job, file and the SQLite db checked, before and after
   a restart; the engine's peak memory while bodies stream in.
3. SIGKILL mid-render, then a restart: no `.part` file left. A keyless `sora-mcp engine` refuses to start.

Bounded: `rounds` repeats of a fixed battery, loopback only, a few minutes at most.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio

from sora_mcp.config import Settings
from sora_mcp.engine.guard import MAX_BODY_BYTES
from tests.engine.engine_helpers import (
    HOSTILE_IDS,
    Answer,
    EngineCommand,
    clean_env,
    exact,
    stream_until_answer,
)
from tests.hardening.runs.common import leaks
from tests.hardening.runs.embedded_engine import attacks, listening_ports
from tests.hardening.runs.http_run import client
from tests.hardening.runs.serve_proc import ServeProcess

REFUSED = {401, 403, 404, 413, 415, 421}
KEY = "engine-surface-long-run-key-0123456789abcdef"
JSON = {"Content-Type": "application/json"}
BAD_NUMBERS = (
    b'{"prompt": "x", "seed": 1e400}',
    b'{"prompt": "x", "seed": NaN}',
    b'{"prompt": "x", "seed": -Infinity}',
    b'{"prompt": "x", "seed": ' + b"9" * 5000 + b"}",
    b'{"prompt": "x", "seconds": 1e999}',
    b'{"prompt": "x", "extra": {"n": [1e400]}}',
    b"[" * 50_000 + b"]" * 50_000,
)


class Tally:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.tried = self.refused = 0
        self.problems: list[str] = []
        self.leaked = 0

    def expect(self, name: str, answer: Answer, allowed: set[int], secret: str = KEY) -> None:
        self.tried += 1
        text = answer.body.decode(errors="replace")
        if answer.status in allowed:
            self.refused += 1
        else:
            self.problems.append(f"{name}: answered {answer.status} {text[:120]!r}")
        found = leaks(text, data_dir=self.data_dir, secret=secret)
        if any(h.startswith("access-control-") for h in answer.headers):
            found.append("a CORS header")
        if found:
            self.leaked += 1
            self.problems.append(f"{name}: leaked {found}")


def _wait_completed(port: int, ids: list[str], timeout: float = 180) -> list[str]:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for vid in list(pending):
            job = json.loads(exact(port, "GET", f"/v1/videos/{vid}", key=KEY).body)
            if job["status"] in ("completed", "failed"):
                pending.discard(vid)
                if job["status"] == "failed":
                    return [f"{vid} failed: {job['error']}"]
        time.sleep(0.1)
    return [f"{vid} did not complete" for vid in pending]


def _tree(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and "sqlite3" not in p.name
    }


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def embedded(root: Path, rounds: int, tally: Tally) -> list[str]:
    """Part 1; returns facts for the figure."""
    (root / "inputs").mkdir(parents=True, exist_ok=True)
    proc = ServeProcess(Settings(base_url=None, data_dir=root / "data"), "http")
    try:
        async with client(proc.url) as mcp:
            created = await mcp.call_tool(
                "create_video", {"prompt": "A paper boat in the rain", "seconds": "4"}
            )
            if created.is_error:
                return [f"create failed: {created.content[0].text[:200]}"]
            vid = created.structured_content["id"]
            ports = listening_ports(proc.proc.pid) - {proc.port}
            if len(ports) != 1:
                return [f"embedded engine socket not found: {ports}"]
            port = ports.pop()
            for _ in range(rounds):
                for name, method, path, headers, body in attacks(port, vid):
                    answer = await anyio.to_thread.run_sync(
                        lambda method=method, path=path, headers=headers, body=body: exact(
                            port, method, path, headers=headers, body=body
                        )
                    )
                    tally.expect(f"embedded {name}", answer, REFUSED)
            done = await mcp.call_tool("get_status", {"video_id": vid, "wait_seconds": 45})
            status = done.structured_content["jobs"][0]["status"] if not done.is_error else "error"
            return [] if status == "completed" else [f"the user's job ended {status} after the attacks"]
    finally:
        stderr = proc.close()
        if "Traceback" in stderr:
            tally.problems.append("serve's stderr holds a traceback")


def standalone(root: Path, rounds: int, tally: Tally) -> dict[str, Any]:
    """Part 2; returns figures."""
    data = root / "engine"
    data.mkdir(parents=True)
    engine = EngineCommand(data, "--enable-faults", SORA_ENGINE_API_KEY=KEY, SORA_ENGINE_POLL_AFTER_MS="100")
    facts: dict[str, Any] = {"jobs": 0, "read_mb": 0.0, "peak_growth_mb": 0.0}
    try:
        port = engine.port
        ids = [
            json.loads(
                exact(
                    port,
                    "POST",
                    "/v1/videos",
                    key=KEY,
                    headers=JSON,
                    body=json.dumps({"prompt": f"shot {i}", "seconds": "4"}).encode(),
                ).body
            )["id"]
            for i in range(3)
        ]
        tally.problems += _wait_completed(port, ids)
        facts["jobs"] = len(ids)
        before = _tree(data)
        for _ in range(rounds):
            for vid in (*HOSTILE_IDS, f"{ids[0]}%2f..", f"..%2f{ids[0]}"):
                for method, path in (
                    ("DELETE", f"/v1/videos/{vid}"),
                    ("GET", f"/v1/videos/{vid}/content"),
                    ("POST", f"/v1/videos/{vid}/remix"),
                ):
                    tally.expect(
                        f"{method} {path}",
                        exact(
                            port,
                            method,
                            path,
                            key=KEY,
                            headers=JSON,
                            body=b'{"prompt": "x"}' if method == "POST" else None,
                        ),
                        {404},
                    )
            for body in BAD_NUMBERS:
                tally.expect(
                    f"bad number {body[:40]!r}",
                    exact(port, "POST", "/v1/videos", key=KEY, headers=JSON, body=body),
                    {400},
                )
            for kind in ("text/plain", "application/x-www-form-urlencoded", ""):
                tally.expect(
                    f"POST faults as {kind!r}",
                    exact(
                        port,
                        "POST",
                        "/_engine/faults",
                        key=KEY,
                        headers={"Content-Type": kind} if kind else {},
                        body=b'{"fail_rate": 1}',
                    ),
                    {415},
                )
            for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example"):
                tally.expect(
                    f"Host {host}", exact(port, "GET", "/v1/videos", key=KEY, headers={"Host": host}), {421}
                )
            tally.expect(
                "600 MB declared",
                exact(
                    port,
                    "POST",
                    "/v1/videos",
                    key=KEY,
                    body=None,
                    headers={**JSON, "Content-Length": str(600 * 2**20)},
                ),
                {413},
            )
        Path(f"/proc/{engine.proc.pid}/clear_refs").write_text("5")  # peak RSS := current RSS
        start = _hwm_mb(engine.proc.pid)
        for _ in range(2):
            status, sent = stream_until_answer(
                port, "/v1/videos", {**JSON, "Authorization": f"Bearer {KEY}"}, max_mb=200
            )
            tally.tried += 1
            if status in (413, None) and sent < MAX_BODY_BYTES + 32 * 2**20:
                tally.refused += 1
            else:
                tally.problems.append(f"streamed body: answered {status} after {sent} bytes")
            facts["read_mb"] = max(facts["read_mb"], sent / 2**20)
        facts["peak_growth_mb"] = _hwm_mb(engine.proc.pid) - start
        knobs = json.loads(exact(port, "GET", "/_engine/faults", key=KEY).body)
        if knobs["fail_rate"] or knobs["error_rate_5xx"]:
            tally.problems.append(f"fault knobs changed: {knobs}")
        after = _tree(data)
        if after != before:
            tally.problems.append(f"files changed: {sorted(set(before) ^ set(after))[:5]}")
        engine.stop()
        engine = EngineCommand(data, SORA_ENGINE_API_KEY=KEY)
        listed = {v["id"] for v in json.loads(exact(engine.port, "GET", "/v1/videos", key=KEY).body)["data"]}
        if listed != set(ids):
            tally.problems.append(f"after a restart the engine lists {len(listed)} of {len(ids)} jobs")
        facts["listed_after_restart"] = len(listed)
    finally:
        engine.stop()
    return facts


def killed_mid_render(root: Path) -> dict[str, int]:
    """Part 3: SIGKILL while a clip renders, then start again; count `.part` files before and after."""
    data = root / "killed"
    data.mkdir(parents=True)
    engine = EngineCommand(data, SORA_ENGINE_API_KEY=KEY, SORA_ENGINE_RENDER_SLOWDOWN="40")
    vid = json.loads(
        exact(
            engine.port,
            "POST",
            "/v1/videos",
            key=KEY,
            headers=JSON,
            body=b'{"prompt": "slow", "seconds": "4"}',
        ).body
    )["id"]
    deadline = time.monotonic() + 60
    while not list(data.rglob("*.part*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.kill()
    leftovers = list(data.rglob("*.part*"))
    # On start the sweep runs before anything renders; the job itself is rendered again (new temp names).
    again = EngineCommand(data, SORA_ENGINE_API_KEY=KEY)
    try:
        after = sum(path.exists() for path in leftovers)
        status = json.loads(exact(again.port, "GET", f"/v1/videos/{vid}", key=KEY).body)["status"]
    finally:
        again.stop()
    keyless = subprocess.run(
        [sys.executable, "-m", "sora_mcp", "engine", "--port", "0", "--data-dir", str(root / "keyless")],
        env=clean_env(),
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    return {
        "left": len(leftovers),
        "after": after,
        "job_kept": int(status != "failed"),
        "keyless_exit": keyless.returncode,
    }


async def engine_surface(root: Path, rounds: int) -> tuple[str, list[str]]:
    """(figure, problems) for RESULTS.md."""
    tally = Tally(root)
    problems = await embedded(root / "embedded", rounds, tally)
    embedded_tried = tally.tried
    facts = await anyio.to_thread.run_sync(standalone, root / "standalone", rounds, tally)
    killed = await anyio.to_thread.run_sync(killed_mid_render, root / "killed")
    problems += tally.problems
    if killed["left"] == 0:
        problems.append("SIGKILL mid-render left no .part file: the sweep was not exercised")
    if killed["after"]:
        problems.append(f"{killed['after']} .part files survived a restart")
    if not killed["job_kept"]:
        problems.append("the job killed mid-render failed after the restart")
    if killed["keyless_exit"] != 2:
        problems.append(f"keyless `sora-mcp engine` exited {killed['keyless_exit']}, not 2")
    lost = len([p for p in problems if "leaked" not in p])
    figure = (
        f"{tally.tried} hostile requests ({embedded_tried} at the embedded engine of a default `sora-mcp serve`: "
        f"keyless, wrong key, foreign Host/Origin, text/plain fault injection, encoded-dot deletes; the rest at "
        f"a keyed engine: {len(HOSTILE_IDS) + 2} encoded-dot/slash ids x 3 routes, bad numbers, wrong content "
        f"types, bodies past the {MAX_BODY_BYTES / 2**20:.1f} MiB cap), {tally.refused} refused; "
        f"{facts['jobs']} jobs with their files and db intact, {facts.get('listed_after_restart', 0)} listed "
        f"after a restart; a 200 MB streamed body stopped after {facts['read_mb']:.0f} MiB sent "
        f"(engine peak +{facts['peak_growth_mb']:.0f} MB); SIGKILL mid-render left {killed['left']} .part "
        f"files, {killed['after']} after restart; keyless engine refused (exit {killed['keyless_exit']}); "
        f"{lost} lost, {tally.leaked} leaked"
    )
    return figure, problems

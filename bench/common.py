"""Shared plumbing for the benchmarks: result rows, summaries, processes, RSS and the engine subprocess.

Every benchmark returns a `Row` (figure, floor, measured, ratio/delta, target, verdict, how).
Processes are started here (the engine as `python -m sora_mcp engine`, the MCP server as
`python -m sora_mcp serve`) with their own data dirs under one temp folder, on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYTHON = sys.executable
# openai 3.x emits a DeprecationWarning on every videos.* call; it is noise here.
warnings.filterwarnings("ignore", category=DeprecationWarning)


@dataclass
class Row:
    """One line of bench/RESULTS.md."""

    figure: str
    floor: str
    measured: str
    ratio: str
    target: str
    meets: str
    how: str
    detail: dict[str, Any] = field(default_factory=dict)


def summary(values: list[float]) -> dict[str, float]:
    """Median, min, max and IQR (quartiles need 4+ values; below that min-max is the spread)."""
    ordered = sorted(values)
    out = {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1], "n": len(ordered)}
    if len(ordered) >= 4:
        q = statistics.quantiles(ordered, n=4)
        out["q1"], out["q3"] = q[0], q[2]
    return out


def fmt(s: dict[str, float], unit: str, scale: float = 1.0, digits: int = 2) -> str:
    """`median unit (min–max, n=N)`, or with IQR when there are enough values."""
    m = s["median"] * scale
    if "q1" in s:
        spread = f"IQR {s['q1'] * scale:.{digits}f}–{s['q3'] * scale:.{digits}f}"
    else:
        spread = f"{s['min'] * scale:.{digits}f}–{s['max'] * scale:.{digits}f}"
    return f"{m:.{digits}f} {unit} ({spread}, n={s['n']})"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- memory (Linux /proc; None elsewhere) --------------------------------------------------
def proc_status_kb(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    kb = proc_status_kb(pid, "VmRSS")
    return None if kb is None else kb / 1024


def hwm_mb(pid: int) -> float | None:
    kb = proc_status_kb(pid, "VmHWM")
    return None if kb is None else kb / 1024


def reset_hwm(pid: int) -> bool:
    """Reset the process's peak RSS to its current RSS (Linux ≥ 4.0, own processes)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def child_pid(match: str) -> int | None:
    """The pid of our child process whose command line contains `match` (stdio servers the MCP Client spawned)."""
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = stat.rsplit(")", 1)[1].split()[1]
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        if ppid == me and match in cmd:
            return int(entry.name)
    return None


# ---- environment for our subprocesses ------------------------------------------------------
ENGINE_KEY = "bench-key"  # the engine subprocess's key, which the servers and SDK clients send


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without SORA_*/OPENAI_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORA_MCP_", "SORA_ENGINE_", "OPENAI_"))}
    env.update(extra)
    return env


def server_env(data_dir: Path, base_url: str | None, **extra: str) -> dict[str, str]:
    env = clean_env(SORA_MCP_DATA_DIR=str(data_dir), **extra)
    if base_url:
        env.update(SORA_MCP_BASE_URL=base_url, SORA_MCP_API_KEY=ENGINE_KEY)
    return env


class EngineProcess:
    """`python -m sora_mcp engine` on 127.0.0.1 in its own process (so its CPU and memory are not ours).

    Started with the key the servers use (`bench-key`) and `--enable-faults` for its admin routes.
    """

    def __init__(self, data_dir: Path, **config: Any) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        env = clean_env(
            SORA_ENGINE_API_KEY=ENGINE_KEY, **{f"SORA_ENGINE_{k.upper()}": str(v) for k, v in config.items()}
        )
        self.log = (data_dir.parent / f"{data_dir.name}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "sora_mcp",
                "engine",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                "--enable-faults",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        self._wait_ready()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    def _wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the engine exited early; see {self.log.name}")
            try:
                self.faults()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError("the engine did not start within 30 s")

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.root + path,
            data=data,
            method="GET" if body is None else "POST",
            headers={"content-type": "application/json", "authorization": f"Bearer {ENGINE_KEY}"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def faults(self, **knobs: Any) -> dict[str, Any]:
        return self._call("/_engine/faults", knobs if knobs else None)

    def stats(self) -> dict[str, Any]:
        return self._call("/_engine/stats")

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.stats()["requests"] if m == method and p == path)

    def job_dir(self, video_id: str) -> Path:
        return self.data_dir / "videos" / video_id

    def render_span(self, video_id: str) -> tuple[float, float] | None:
        """(start, end) wall-clock times of a job's render, read from the files the engine wrote.

        The worker creates `videos/<id>/out/` when the render starts (so the job folder's mtime
        is the start) and the renderer renames its finished files into `out/` last (so `out/`'s
        mtime is the end). Both are the engine's own clock, which is ours (same machine).
        """
        job = self.job_dir(video_id)
        try:
            return job.stat().st_mtime, (job / "out").stat().st_mtime
        except OSError:
            return None

    def close(self) -> None:
        stop_process(self.proc)
        self.log.close()


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a child politely, then kill it if it has not gone within 15 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    import platform
    from importlib import metadata

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for dist in ("sora-mcp", "mcp", "openai", "av", "numpy", "pillow", "uvicorn", "starlette"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": ", ".join(versions),
    }

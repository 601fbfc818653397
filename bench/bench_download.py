"""Row 3: a 200 MB download through `download_asset` vs curl on the same URL; server peak RSS growth.

The engine only renders short clips, so the asset is made big honestly: a real rendered MP4 of a
completed job, grown to the wanted size with a trailing ISO-BMFF `free` box (a box every MP4
reader skips), written in place of the job's video file in the engine's data dir (the bench owns
that dir; the engine streams whatever file is there, as it would any asset). Both sides write to
the same disk: `download_asset` streams into the library (temp file, sha256, fsync, atomic
rename); curl writes a file in the same folder, and we fsync it inside curl's timing so both
deliver the same durability. Order alternates per repetition.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from bench_startup import sora_params
from common import ENGINE_KEY, EngineProcess, Row, child_pid, fmt, hwm_mb, reset_hwm, rss_mb, summary, verdict
from mcp import Client
from servers import create_job, structured, wait_done

TARGET_RATIO = 0.8
TARGET_RSS_MB = 50.0
CURL = "/usr/bin/curl"


def pad_mp4(path: Path, size: int) -> None:
    """Append one `free` box so the file is exactly `size` bytes and still a valid MP4."""
    extra = size - path.stat().st_size
    if extra < 8 or extra >= 2**32:
        raise ValueError(f"cannot pad {path.name} to {size} bytes with one free box")
    chunk = bytes(1 << 20)
    with path.open("ab") as f:
        f.write(extra.to_bytes(4, "big") + b"free")
        left = extra - 8
        while left > 0:
            f.write(chunk[: min(len(chunk), left)])
            left -= min(len(chunk), left)


def curl_path() -> str | None:
    return CURL if os.access(CURL, os.X_OK) else shutil.which("curl")


def curl_once(curl: str, url: str, dest: Path) -> float:
    start = time.perf_counter()
    auth = ["-H", f"Authorization: Bearer {ENGINE_KEY}"]  # the engine needs its key, from curl too
    subprocess.run([curl, "-sS", "-f", *auth, "-o", str(dest), url], check=True, timeout=300)
    fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - start
    dest.unlink()
    return elapsed


async def run(reps: int, size_mb: int, root: Path) -> Row:
    size = size_mb * 1024 * 1024
    engine = EngineProcess(root / "engine-download")
    curl = curl_path()
    ours: list[float] = []
    theirs: list[float] = []
    growth: list[float] = []
    try:
        async with Client(sora_params(root / "server-download", engine.base_url)) as client:
            vid = await create_job(client)
            await wait_done(client, [vid])
            pad_mp4(engine.job_dir(vid) / "out" / "video.mp4", size)
            pid = child_pid("sora_mcp serve")
            # the watcher archived the small original; its library path is where each rep downloads to
            archived = Path(structured(await client.call_tool("download_asset", {"video_id": vid}))["path"])
            url = f"{engine.base_url}/videos/{vid}/content?variant=video"
            library = archived.parent
            for rep in range(reps):
                if curl and rep % 2:
                    theirs.append(curl_once(curl, url, library / "curl-download.mp4"))
                ours.append(await _download(client, vid, archived, pid, growth, size))
                if curl and not rep % 2:
                    theirs.append(curl_once(curl, url, library / "curl-download.mp4"))
    finally:
        engine.close()
    return _row(size_mb, ours, theirs, growth, curl, size)


async def _download(
    client: Client, vid: str, archived: Path, pid: int | None, growth: list[float], size: int
) -> float:
    """One timed download_asset of the big file (the archived copy is removed first so it is fetched)."""
    archived.unlink(missing_ok=True)
    before = rss_mb(pid) if pid and reset_hwm(pid) else None
    start = time.perf_counter()
    asset = structured(await client.call_tool("download_asset", {"video_id": vid}))
    elapsed = time.perf_counter() - start
    if asset["size_bytes"] != size:
        raise RuntimeError(f"download_asset saved {asset['size_bytes']} bytes, expected {size}")
    after = hwm_mb(pid) if pid else None
    if before is not None and after is not None:
        growth.append(max(0.0, after - before))
    return elapsed


def _row(
    size_mb: int, ours: list[float], theirs: list[float], growth: list[float], curl: str | None, size: int
) -> Row:
    so = summary([size / t / 2**20 for t in ours])
    rss = summary(growth) if growth else None
    rss_text = (
        f"peak RSS growth {fmt(rss, 'MB', 1, 1)}" if rss else "peak RSS growth: not measurable here (/proc)"
    )
    rss_ok = None if rss is None else rss["max"] < TARGET_RSS_MB
    if curl is None:
        floor, ratio_text, ok = "curl not found (install curl to measure the floor)", "n/a", None
    else:
        st = summary([size / t / 2**20 for t in theirs])
        ratio = so["median"] / st["median"]
        floor, ratio_text, ok = (
            f"curl → file + fsync: {fmt(st, 'MB/s', 1, 0)}",
            f"{ratio:.2f}×",
            ratio >= TARGET_RATIO,
        )
    meets = verdict(None if ok is None and rss_ok is None else (ok is not False) and (rss_ok is not False))
    return Row(
        figure=f"{size_mb} MB download, throughput and server peak RSS growth",
        floor=floor,
        measured=f"`download_asset` over stdio: {fmt(so, 'MB/s', 1, 0)}; {rss_text}",
        ratio=ratio_text,
        target=f"≥ {TARGET_RATIO}×; < {TARGET_RSS_MB:g} MB",
        meets=meets,
        how=(
            "engine in its own process serves a real rendered MP4 grown to size with an MP4 `free` box; "
            "whole download_asset tool call timed (status check, stream to temp, sha256, fsync, rename); "
            "curl to a file in the same library folder, fsync included; RSS growth = server VmHWM after − "
            "VmRSS before (peak reset via /proc/PID/clear_refs)"
        ),
        detail={"ours_s": ours, "curl_s": theirs, "rss_growth_mb": growth},
    )

"""Runs jobs: queued → in_progress (progress from rendered frames) → completed or failed.

Renders are CPU-bound, so they run in a thread pool of `render_workers` threads, off the
event loop: the API keeps answering while clips render. On stop, running renders abort at
their next frame and stay `in_progress` in the store; the next start re-queues them.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sora_mcp.engine.config import EngineConfig
from sora_mcp.engine.store import EngineJob, JobStore

log = logging.getLogger("sora_mcp.engine")

# Where each variant lives inside a job's output folder.
VARIANT_FILES: dict[str, str] = {
    "video": "video.mp4",
    "thumbnail": "thumbnail.webp",
    "spritesheet": "spritesheet.jpg",
}
OUT_DIR = "out"
SOURCE_FILE = "source.mp4"


class _Abort(Exception):
    """Raised from the progress callback to stop a render (engine stopping or job deleted)."""


def output_dir(store: JobStore, video_id: str) -> Path:
    return store.job_dir(video_id) / OUT_DIR


class Worker:
    """Owns the render thread pool and every job's lifecycle transitions."""

    def __init__(self, store: JobStore, config: Callable[[], EngineConfig]) -> None:
        self._store = store
        self._config = config
        self._stopping = threading.Event()
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(
            self._config().render_workers, thread_name_prefix="sora-engine-render"
        )
        for job in self._store.unfinished():
            # A restart interrupted these: render again from scratch.
            self._store.update(job.id, status="queued", progress=0)
            self.submit(job.id)

    def stop(self) -> None:
        self._stopping.set()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, video_id: str) -> None:
        if self._pool is None:
            raise RuntimeError("The engine worker is not running; start the engine first.")
        self._pool.submit(self._run, video_id)

    def _run(self, video_id: str) -> None:
        job = self._store.get(video_id)
        if job is None or self._stopping.is_set() or job.status != "queued":
            return
        job = self._store.update(video_id, status="in_progress", progress=0)
        if job is None:
            return
        if job.planned_failure is not None:
            self._fail(job, job.planned_failure)
            return
        out = output_dir(self._store, video_id)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True, exist_ok=True)
        try:
            self._render(job, out)
        except _Abort:
            shutil.rmtree(out, ignore_errors=True)
            return
        except Exception as exc:  # the renderer's failure becomes data on the job, not a crash
            log.exception("render of %s failed", video_id)
            shutil.rmtree(out, ignore_errors=True)
            self._fail(job, {"code": "render_failed", "message": self._describe(exc)})
            return
        self._complete(job)

    def _render(self, job: EngineJob, out: Path) -> None:
        from sora_mcp.engine.render import RenderSpec, render  # lazy: heavy imports (PyAV, numpy)

        job_dir = self._store.job_dir(job.id)
        width, height = (int(part) for part in job.size.split("x"))
        source = job_dir / job.source_file if job.source_file else None
        spec = RenderSpec(
            prompt=job.prompt,
            width=width,
            height=height,
            seconds=int(job.seconds),
            seed=job.seed,
            input_reference=job_dir / job.reference_file if job.reference_file else None,
            source_video=source if job.kind == "extension" else None,
            edit_of=source if job.kind == "edit" else None,
        )
        last = [0]

        def progress(done: int, total: int) -> None:
            if self._stopping.is_set():
                raise _Abort()
            percent = min(99, done * 100 // max(total, 1))
            if percent > last[0]:
                last[0] = percent
                if self._store.update(job.id, progress=percent) is None:
                    raise _Abort()  # deleted while rendering

        result = render(spec, out, progress=progress, slowdown=self._config().render_slowdown)
        # Keep the agreed file names whatever the renderer called them.
        for variant, produced in (
            ("video", result.video),
            ("thumbnail", result.thumbnail),
            ("spritesheet", result.spritesheet),
        ):
            target = out / VARIANT_FILES[variant]
            if Path(produced) != target:
                os.replace(produced, target)

    def _complete(self, job: EngineJob) -> None:
        now = time.time()
        completed_at = int(now)
        expires_at = completed_at + self._config().asset_ttl_s
        if job.source_file:
            (self._store.job_dir(job.id) / job.source_file).unlink(missing_ok=True)
        updated = self._store.update(
            job.id,
            status="completed",
            progress=100,
            completed_at=completed_at,
            expires_at=expires_at,
            expires_ts=float(expires_at),
            source_file=None,
        )
        if updated is None:  # deleted just as it finished
            shutil.rmtree(self._store.job_dir(job.id), ignore_errors=True)

    def _fail(self, job: EngineJob, error: dict[str, str]) -> None:
        if job.source_file:
            (self._store.job_dir(job.id) / job.source_file).unlink(missing_ok=True)
        self._store.update(
            job.id, status="failed", error=error, completed_at=int(time.time()), source_file=None
        )

    def _describe(self, exc: BaseException) -> str:
        # Never leak host paths: the data dir is replaced by a neutral name.
        detail = str(exc).replace(str(self._store.data_dir), "<engine data dir>")
        return (
            f"The engine could not render this clip ({type(exc).__name__}: {detail[:300]}). "
            "Try a different prompt or size, or create the video again."
        )


def prepare_source(store: JobStore, source: EngineJob, new_id: str) -> str:
    """Link (or copy) the source MP4 into the new job's folder so deleting the source cannot break it."""
    src = output_dir(store, source.id) / VARIANT_FILES["video"]
    dest_dir = store.job_dir(new_id)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / SOURCE_FILE
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
    return SOURCE_FILE


def copy_reference(store: JobStore, source: EngineJob, new_id: str) -> str | None:
    """Carry the source job's input reference over to a remix (same background plate)."""
    if not source.reference_file:
        return None
    src = store.job_dir(source.id) / source.reference_file
    if not src.exists():
        return None
    dest_dir = store.job_dir(new_id)
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest_dir / source.reference_file)
    except OSError:
        shutil.copyfile(src, dest_dir / source.reference_file)
    return source.reference_file

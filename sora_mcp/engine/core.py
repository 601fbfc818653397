"""`Engine`: the one object behind the app — live config, job store, worker, faults and stats.

Handlers call `new_job` to create work; `EngineServer` reaches the same object to read stats
and change fault knobs while the server runs in its own thread.
"""

from __future__ import annotations

import logging
from typing import Any

from sora_mcp.engine.config import EngineConfig
from sora_mcp.engine.faults import Faults
from sora_mcp.engine.stats import RequestStats
from sora_mcp.engine.store import EngineJob, JobStore, Kind, new_video_id
from sora_mcp.engine.worker import Worker

IDEMPOTENCY_WINDOW_S = 24 * 3600
log = logging.getLogger("sora_mcp.engine")


class Engine:
    """State shared by the HTTP layer and the render threads."""

    def __init__(self, config: EngineConfig, stats: RequestStats | None = None) -> None:
        self.config = config
        self.stats = stats if stats is not None else RequestStats()
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = JobStore(config.data_dir)
        self.faults = Faults(lambda: self.config)
        self.worker = Worker(self.store, lambda: self.config)
        self._open = True

    def start(self) -> None:
        if not self._open:
            self.store = JobStore(self.config.data_dir)
            self.worker = Worker(self.store, lambda: self.config)
            self._open = True
        # Before the worker runs: no render of this run has a temp file yet, so every one is a leftover.
        swept = self.store.sweep_partials()
        if swept:
            log.info("removed %d unfinished temp file(s) left by an earlier run", swept)
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
        self.store.close()
        self._open = False

    def set_faults(self, **knobs: Any) -> EngineConfig:
        # Swapping the whole (immutable-by-convention) config is atomic for readers in other threads.
        self.config = self.config.with_knobs(**knobs)
        if "fault_seed" in knobs:
            self.faults.reseed()
        return self.config

    def fault_knobs(self) -> dict[str, Any]:
        from sora_mcp.engine.config import FAULT_KNOBS

        dumped = self.config.model_dump(mode="json")
        return {name: dumped[name] for name in sorted(FAULT_KNOBS)}

    def new_job(
        self,
        *,
        kind: Kind,
        prompt: str,
        model: str,
        size: str,
        seconds: int,
        seed: int,
        reference: tuple[bytes, str] | None = None,
        reference_file: str | None = None,
        source_file: str | None = None,
        source_id: str | None = None,
        remixed_from: str | None = None,
        video_id: str | None = None,
    ) -> EngineJob:
        """Persist a queued job (and its input image) and hand it to the worker."""
        video_id = video_id or new_video_id()
        if reference is not None:
            payload, ext = reference
            job_dir = self.store.job_dir(video_id)
            job_dir.mkdir(parents=True, exist_ok=True)
            reference_file = "input_reference" + ext
            tmp = job_dir / (reference_file + ".part")
            tmp.write_bytes(payload)
            tmp.replace(job_dir / reference_file)
        job = EngineJob(
            id=video_id,
            model=model,
            size=size,
            seconds=str(seconds),
            prompt=prompt,
            seed=seed,
            kind=kind,
            source_id=source_id,
            remixed_from_video_id=remixed_from,
            reference_file=reference_file,
            source_file=source_file,
            planned_failure=self.faults.plan_failure(prompt),
        )
        self.store.insert(job)
        self.stats.job_created()
        self.worker.submit(video_id)
        return job


__all__ = ["IDEMPOTENCY_WINDOW_S", "Engine", "new_video_id"]

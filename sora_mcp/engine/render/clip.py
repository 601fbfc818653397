"""Render a job's procedural preview clip: MP4 (H.264 + optional AAC), WebP thumbnail, JPEG spritesheet.

`render(spec, out_dir)` is the engine's one entry point for pixels. It is synchronous and
CPU-bound (the engine calls it from a worker thread) and deterministic: the same spec gives
the same bytes, because every random choice is seeded and x264 runs with a fixed thread
count. Outputs appear in `out_dir` only complete (temp name + atomic rename); a failure
leaves nothing behind. Bad inputs raise `RenderError`, whose message names the problem and
the fix and never a host path.

Frames are drawn on a helper thread, and the sound is made and AAC-encoded on another, while
this thread encodes the video and muxes: PyAV releases the GIL inside the encoders, and x264
with two threads leaves part of the second core idle.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from sora_mcp.engine.render.audio import RATE, AudioTrack, synthesize
from sora_mcp.engine.render.layers import Planes, planes_of
from sora_mcp.engine.render.plan import PromptPlan, plan_prompt
from sora_mcp.engine.render.pool import FRAMES
from sora_mcp.engine.render.scene import build_scene
from sora_mcp.engine.render.sources import (
    count_frames,
    first_frame,
    has_audio_track,
    reference_image,
    source_audio,
    source_frames,
)
from sora_mcp.engine.render.spec import RenderError, RenderResult, RenderSpec, validate
from sora_mcp.engine.render.stills import Stills

__all__ = [
    "CONTAINER_OPTIONS",
    "ENCODER_OPTIONS",
    "ENCODER_THREADS",
    "ENCODER_THREAD_TYPE",
    "open_output",
    "render",
]

# Chosen by measurement (bench/bench_render.py): on 2 cores "ultrafast" keeps encoding of moving
# content close to the cost of static content; slower presets spend their time on motion search
# a procedural preview does not need. A constant quantiser (qp 23, ~50 dB PSNR on these clips)
# instead of crf: crf makes x264 estimate every frame's complexity on a half-size copy, which
# made encoding about a third slower here for no visible gain. x264 threads frame by frame (PyAV's
# default is slices, which waits on every frame: ~30% slower for 1280x720 content on 2 cores).
# The thread count and type are fixed because x264's output depends on them.
ENCODER_OPTIONS: dict[str, str] = {"preset": "ultrafast", "x264-params": "qp=23"}
ENCODER_THREADS = 2
ENCODER_THREAD_TYPE = "FRAME"
CONTAINER_OPTIONS: dict[str, str] = {"movflags": "+faststart"}
OUTPUT_NAMES = ("video.mp4", "thumbnail.webp", "spritesheet.jpg")
SPARE_FRAMES = 8


def open_output(
    path: Path, width: int, height: int, fps: int
) -> tuple[av.container.OutputContainer, av.VideoStream]:
    """An MP4 container with the H.264 stream every render (and the benchmark floor) uses."""
    container = av.open(str(path), "w", format="mp4", options=CONTAINER_OPTIONS)
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = dict(ENCODER_OPTIONS)
    stream.codec_context.thread_type = ENCODER_THREAD_TYPE
    stream.codec_context.thread_count = ENCODER_THREADS
    return container, stream


def render(
    spec: RenderSpec,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    slowdown: float = 1.0,
) -> RenderResult:
    """Render `spec` into out_dir/video.mp4, thumbnail.webp and spritesheet.jpg.

    `progress(frames_done, frames_total)` is called as frames are encoded (about 25 times).
    `slowdown` > 1 sleeps (slowdown - 1) / fps seconds per frame, to make renders observably slow.
    """
    validate(spec)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    temps = {name: out_dir / f".{token}.part.{name}" for name in OUTPUT_NAMES}
    try:
        has_audio = _render_to(spec, temps, progress, slowdown)
        for name, temp in temps.items():
            os.replace(temp, out_dir / name)
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)
    return RenderResult(
        out_dir / OUTPUT_NAMES[0],
        out_dir / OUTPUT_NAMES[1],
        out_dir / OUTPUT_NAMES[2],
        spec.frames,
        has_audio,
    )


class _Stopped(Exception):
    """The encoding side gave up; the drawing thread just ends."""


class _Producer(threading.Thread):
    """Draws every frame in order into a bounded queue and makes the stills on the way."""

    def __init__(
        self,
        spec: RenderSpec,
        plan: PromptPlan,
        source_count: int,
        backdrop: Image.Image | None,
        temps: dict[str, Path],
    ) -> None:
        super().__init__(name="render-frames", daemon=True)
        self.spec, self.plan, self.source_count, self.backdrop, self.temps = (
            spec,
            plan,
            source_count,
            backdrop,
            temps,
        )
        # shallow: measured faster than 8 or 16 (frames still in cache when x264 reads them, fewer
        # 1.4 MB buffers touched), even though the encoder may wait a little while the
        # thumbnail is written
        self.frames: queue.Queue[av.VideoFrame | None] = queue.Queue(maxsize=4)
        # frames the encoder is done with, drawn into again (and, after the render, kept in the
        # pool for the next one): a fresh 1280x720 frame costs more (allocation and first-touch
        # page faults) than drawing into it
        self.spare: queue.SimpleQueue[av.VideoFrame] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._draw_all()
        except _Stopped:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the encoding thread, which re-raises
            self.error = exc
            try:
                self._put(None)
            except _Stopped:
                return

    def _put(self, frame: av.VideoFrame | None) -> None:
        while not self.stop.is_set():
            try:
                self.frames.put(frame, timeout=0.05)
                return
            except queue.Full:
                continue
        raise _Stopped

    def recycle(self, frame: av.VideoFrame) -> None:
        """Called by the encoding thread once the encoder has taken the frame."""
        if self.spare.qsize() < SPARE_FRAMES:  # zoom steps bring frames of their own: let extras go
            self.spare.put(frame)

    def _blank(self) -> av.VideoFrame | None:
        frame: av.VideoFrame | None
        try:
            frame = self.spare.get_nowait()
        except queue.Empty:
            frame = FRAMES.take(self.spec.width, self.spec.height)
        if frame is None:
            return None
        frame.make_writable()  # a copy only if the encoder still holds a reference to its data
        return frame

    def give_back(self) -> None:
        """Hand the frames the encoder is done with to the pool (once the encoder is closed)."""
        frames = []
        while True:
            try:
                frames.append(self.spare.get_nowait())
            except queue.Empty:
                break
        FRAMES.give(frames)

    def _draw_all(self) -> None:
        spec, total = self.spec, self.spec.frames
        stills = Stills(
            total, spec.width, spec.height, self.temps["thumbnail.webp"], self.temps["spritesheet.jpg"]
        )
        backdrop: Image.Image | Planes | None = self.backdrop
        if spec.source_video is not None:
            for index, frame in enumerate(
                source_frames(spec.source_video, spec.width, spec.height, self.source_count)
            ):
                if stills.wants(index):
                    stills.offer(index, frame)
                self._put(frame)
                if index == self.source_count - 1:
                    backdrop = planes_of(frame, copy=True)
        scene = build_scene(
            self.plan, spec.width, spec.height, total - self.source_count, spec.fps, spec.seed, backdrop
        )
        for index in range(self.source_count, total):
            blank = self._blank()
            frame = scene.draw(index - self.source_count, blank)
            if blank is not None and frame is not blank:  # drawn on a zoom step's own frame
                self.spare.put(blank)
            if stills.wants(index):  # before the frame is queued: the encoding thread sets its pts
                stills.offer(index, frame)
            self._put(frame)
        stills.finish()


def _render_to(
    spec: RenderSpec, temps: dict[str, Path], progress: Callable[[int, int], None] | None, slowdown: float
) -> bool:
    """Encode the clip into temps["video.mp4"] (the stills are written by the drawing thread)."""
    total = spec.frames
    source_count = count_frames(spec.source_video) if spec.source_video is not None else 0
    if source_count >= total:
        raise RenderError(
            f"The extension's total of {spec.seconds}s does not exceed the source clip's "
            f"{source_count / spec.fps:g}s: ask for more seconds than the source has."
        )
    plan = plan_prompt(spec.prompt, (total - source_count) / spec.fps)
    backdrop = None
    if spec.source_video is None and spec.input_reference is not None:
        backdrop = reference_image(spec.input_reference)
    elif spec.source_video is None and spec.edit_of is not None:
        backdrop = first_frame(spec.edit_of)
    has_audio = plan.has_audio or (spec.source_video is not None and has_audio_track(spec.source_video))
    sound = (lambda: _audio(spec, plan, source_count)) if has_audio else None
    producer = _Producer(spec, plan, source_count, backdrop, temps)
    try:
        _encode(spec, temps["video.mp4"], producer, sound, progress, slowdown)
    finally:
        producer.stop.set()
        if producer.ident is not None:  # started (the encoder opened)
            producer.join()
        producer.give_back()
    if producer.error is not None:
        raise producer.error
    return has_audio


def _next_frame(producer: _Producer) -> av.VideoFrame:
    while True:
        try:
            frame = producer.frames.get(timeout=0.5)
        except queue.Empty:
            if not producer.is_alive():
                raise RuntimeError("the frame-drawing thread ended early") from producer.error
            continue
        if frame is None:
            assert producer.error is not None
            raise producer.error
        return frame


class _AudioEncoder(threading.Thread):
    """Makes the clip's samples and AAC-encodes them on a thread of its own while the video is encoded.

    Both encoders release the GIL, and x264 with two threads leaves part of the second core
    idle, so most of the sound's cost overlaps the video's. Only the encoding thread muxes: it
    takes the finished packets from `packets` between video frames.
    """

    def __init__(self, track: AudioTrack, sound: Callable[[], np.ndarray]) -> None:
        super().__init__(name="render-audio", daemon=True)
        self.track, self.sound = track, sound
        self.packets: queue.SimpleQueue[av.Packet | None] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.done = False

    def run(self) -> None:
        try:
            for packet in self.track.packets(self.sound()):
                if self.stop.is_set():
                    return
                self.packets.put(packet)
        except BaseException as exc:  # noqa: BLE001 - handed to the encoding thread, which re-raises
            self.error = exc
        finally:
            self.packets.put(None)

    def mux_ready(self, container: av.container.OutputContainer, wait: bool = False) -> None:
        """Mux the packets encoded so far (with `wait`, every packet, to the end of the track)."""
        while not self.done:
            try:
                packet = self.packets.get(block=wait)
            except queue.Empty:
                return
            if packet is None:
                self.done = True
                if self.error is not None:
                    raise self.error
                return
            container.mux(packet)


def _encode(
    spec: RenderSpec,
    path: Path,
    producer: _Producer,
    sound: Callable[[], np.ndarray] | None,
    progress: Callable[[int, int], None] | None,
    slowdown: float,
) -> None:
    total = spec.frames
    step = max(1, total // 25)
    pause = max(0.0, slowdown - 1.0) / spec.fps
    container, stream = open_output(path, spec.width, spec.height, spec.fps)
    audio: _AudioEncoder | None = None
    try:
        if sound is not None:
            audio = _AudioEncoder(AudioTrack(container), sound)
        # the header opens the encoders before the drawing thread starts: opening x264 holds
        # the GIL for a few milliseconds, and a scene being built meanwhile would stall on it
        # (and then wait its turn for the GIL back). The audio thread uses its encoder only
        # once opened; the muxer interleaves the streams' packets by timestamp as they arrive.
        container.start_encoding()
        producer.start()
        if audio is not None:
            audio.start()
        for index in range(total):
            frame = _next_frame(producer)
            frame.pts, frame.time_base = index, Fraction(1, spec.fps)
            for packet in stream.encode(frame):
                container.mux(packet)
            producer.recycle(frame)
            if audio is not None:
                audio.mux_ready(container)
            if pause:
                time.sleep(pause)
            if progress is not None and ((index + 1) % step == 0 or index + 1 == total):
                progress(index + 1, total)
        for packet in stream.encode(None):
            container.mux(packet)
        if audio is not None:
            audio.mux_ready(container, wait=True)
    finally:
        if audio is not None and audio.is_alive():
            audio.stop.set()  # an error on this side: the audio thread ends at its next packet
            audio.join()
        container.close()


def _audio(spec: RenderSpec, plan: PromptPlan, source_count: int) -> np.ndarray:
    """The clip's samples: the source's audio (if any) then the new segment's, silence where
    either has none. Called only for clips that have sound (`has_audio` in `_render_to`)."""
    new_seconds = (spec.frames - source_count) / spec.fps
    new = synthesize(plan, new_seconds) if plan.has_audio else None
    if spec.source_video is None:
        assert new is not None
        return new
    old = source_audio(spec.source_video, source_count / spec.fps)
    if old is None:
        old = np.zeros((1, round(source_count / spec.fps * RATE)), np.float32)
    if new is None:
        new = np.zeros((1, round(new_seconds * RATE)), np.float32)
    return np.concatenate([old, new], axis=1)

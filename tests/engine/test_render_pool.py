"""The pool of clip-sized frames kept between renders: bounded in bytes, by size, yuv420p only."""

from __future__ import annotations

import av

from sora_mcp.engine.render.pool import FramePool


def test_take_gives_back_a_frame_of_that_size_or_none() -> None:
    pool = FramePool()
    assert pool.take(1280, 720) is None
    frame = av.VideoFrame(1280, 720, "yuv420p")
    pool.give([frame])
    assert pool.take(640, 360) is None
    assert pool.take(1280, 720) is frame
    assert pool.take(1280, 720) is None and pool.held_bytes == 0


def test_only_yuv420p_frames_are_kept() -> None:
    pool = FramePool()
    pool.give([av.VideoFrame(64, 64, "rgb24")])
    assert pool.held_bytes == 0 and pool.take(64, 64) is None


def test_the_pool_stays_within_its_bytes_dropping_the_least_recent_size_first() -> None:
    def nbytes(width: int, height: int) -> int:
        probe = FramePool()
        probe.give([av.VideoFrame(width, height, "yuv420p")])
        return probe.held_bytes

    # room for three frames: one landscape and the two portrait ones given after
    pool = FramePool(max_bytes=nbytes(1280, 720) + 2 * nbytes(720, 1280))
    pool.give([av.VideoFrame(1280, 720, "yuv420p") for _ in range(2)])
    pool.give([av.VideoFrame(720, 1280, "yuv420p") for _ in range(2)])
    assert pool.held_bytes <= pool.max_bytes
    assert pool.take(720, 1280) is not None and pool.take(720, 1280) is not None
    assert pool.take(1280, 720) is not None and pool.take(1280, 720) is None


def test_a_size_taken_empty_does_not_break_eviction_for_another() -> None:
    """Two workers: one drains its size from the pool while the other gives back more than fits."""
    pool = FramePool()
    pool.give([av.VideoFrame(1280, 720, "yuv420p")])
    one = pool.held_bytes
    pool.max_bytes = 3 * one
    assert pool.take(1280, 720) is not None  # 1280x720 drained
    pool.give([av.VideoFrame(720, 1280, "yuv420p") for _ in range(4)])
    assert pool.held_bytes <= pool.max_bytes
    pool.give([av.VideoFrame(1280, 720, "yuv420p")])
    assert pool.held_bytes <= pool.max_bytes and pool.take(1280, 720) is not None

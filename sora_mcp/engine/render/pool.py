"""Clip-sized yuv420p frames kept from one render to the next.

A fresh 1280x720 frame costs more than drawing into it: its 1.4 MB are new memory, and the
first write to each of its pages is a page fault. A render keeps about six frames in flight
(the frame queue, the one being drawn, the one being encoded); when it ends they come here,
and the next render of that size draws into them instead of allocating its own. Every frame
is drawn over completely before it is encoded, so what a pooled frame held never shows.

The pool is bounded in bytes; frames of the size given back least recently go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

import av

MAX_BYTES = 32 * 1024 * 1024


class FramePool:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._frames: OrderedDict[tuple[int, int], list[av.VideoFrame]] = OrderedDict()
        self._bytes = 0

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def take(self, width: int, height: int) -> av.VideoFrame | None:
        """A pooled frame of this size (contents undefined), or None when there is none."""
        with self._lock:
            frames = self._frames.get((width, height))
            if not frames:
                return None
            frame = frames.pop()
            if not frames:  # no empty lists: the eviction below takes a frame from the oldest size
                del self._frames[(width, height)]
            self._bytes -= _nbytes(frame)
            return frame

    def give(self, frames: Iterable[av.VideoFrame]) -> None:
        """Keep these frames for later renders; the caller must hold no other reference to them."""
        with self._lock:
            for frame in frames:
                if frame.format.name != "yuv420p":
                    continue
                key = (frame.width, frame.height)
                self._frames.setdefault(key, []).append(frame)
                self._frames.move_to_end(key)
                self._bytes += _nbytes(frame)
            while self._bytes > self.max_bytes:
                key, oldest = next(iter(self._frames.items()))
                self._bytes -= _nbytes(oldest.pop())
                if not oldest:
                    del self._frames[key]


def _nbytes(frame: av.VideoFrame) -> int:
    return sum(plane.buffer_size for plane in frame.planes)


FRAMES = FramePool()

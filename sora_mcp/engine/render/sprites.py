"""The moving shapes that make every frame differ: seeded particles and one 'subject' ring.

Drawing a dozen small shapes one by one costs more Python overhead than pixels, so the layer
is vectorised: every shape's pixels are listed once, shape by shape (row, column, colour), and
a frame is drawn by one scatter per plane at that frame's positions. Shapes bounce inside
the frame (never clipped) and drift against the camera move for a sense of depth (parallax).
Sizes, paths and speeds come from the seed; colours from the prompt's palette.
"""

from __future__ import annotations

import functools
import math
import random

import av
import numpy as np
from numpy.typing import ArrayLike

from sora_mcp.engine.render.layers import bt601, even, plane_bytes
from sora_mcp.engine.render.plan import RGB, PromptPlan

PARTICLES = 12


def _yuv(colour: RGB) -> tuple[int, int, int]:
    """One colour in YUV, rounded (the matrix swscale uses for the plates)."""
    y, u, v = (round(float(c)) for c in bt601(colour))
    return y, u, v


_WHITE, _BLACK = (245, 245, 245), (12, 12, 12)


def _shape(size: int, subject: bool) -> np.ndarray:
    """Which colour (1-based index into the shape's colours) each pixel takes; 0 is transparent.

    A particle is a plain disc. The subject is a ring banded white, black and its palette colour,
    so it stands out (and its motion shows) on any backdrop, light or dark."""
    yy, xx = np.mgrid[0:size, 0:size]
    r = size / 2
    d = np.sqrt((yy + 0.5 - r) ** 2 + (xx + 0.5 - r) ** 2) / max(r, 1e-9)
    if not subject:
        return (d <= 1).astype(np.int8)
    return np.select([d > 1, d > 0.85, d > 0.7, d >= 0.5], [0, 1, 2, 3], 0).astype(np.int8)


@functools.lru_cache(maxsize=256)
def _opaque(size: int, subject: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, band) of a shape's opaque pixels, cached: shared by every clip with a shape of
    this size (read-only arrays)."""
    bands = _shape(size, subject)
    rows, cols = np.nonzero(bands)
    found = (rows, cols, bands[rows, cols])
    for array in found:
        array.flags.writeable = False
    return found


class SpriteLayer:
    """All moving shapes of a clip, drawn into a yuv420p frame in a handful of numpy operations."""

    def __init__(self, plan: PromptPlan, width: int, height: int, seed: int, fps: int) -> None:
        rng = random.Random(seed * 7919 + 17)
        unit = height / 720
        self.width, self.height = width, height
        sizes, colours, params = [], [], []
        for i in range(PARTICLES + 1):
            subject = i == PARTICLES  # drawn last, so on top
            size = even(max(8, 96 * unit)) if subject else even(max(8, rng.uniform(12, 44) * unit))
            colour = plan.palette[-1] if subject else plan.palette[(i + 2) % len(plan.palette)]
            speed = (90 if subject else rng.uniform(20, 70)) * unit
            angle = rng.uniform(0, 2 * math.pi)
            params.append(
                (
                    rng.uniform(0, width),
                    rng.uniform(0, height),
                    speed * math.cos(angle),
                    0.5 * speed * math.sin(angle),
                    rng.uniform(4, 18) * unit,
                    rng.uniform(0, 2 * math.pi),
                    0.5 if subject else rng.uniform(0.2, 1.6),
                )
            )
            sizes.append(size)
            colours.append([_yuv(_WHITE), _yuv(_BLACK), _yuv(colour)] if subject else [_yuv(colour)])
        self.sizes = np.array(sizes)
        self.x0, self.y0, self.vx, self.vy, self.wobble, self.phase, self.depth = (
            np.array(p) for p in zip(*params)
        )
        # the subject moves at least 2.5 px per frame on both axes, so even at thumbnail sizes
        # (positions snap to even pixels) no two consecutive frames are the same
        floor = 2.5 * fps
        self.vx[-1] = np.copysign(max(abs(self.vx[-1]), floor), self.vx[-1])
        self.vy[-1] = np.copysign(max(abs(self.vy[-1]), floor), self.vy[-1])
        self.luma = self._pixels(sizes, colours, 0, 1)
        self.chroma_u = self._pixels(sizes, colours, 1, 2)
        self.chroma_v = self._pixels(sizes, colours, 2, 2)
        self._offsets: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _pixels(sizes: list[int], colours: list[list[tuple[int, int, int]]], channel: int, scale: int):
        """(rows, cols, value) of every opaque pixel of every shape, shape by shape, for one
        plane, and how many pixels each shape has."""
        rows, cols, counts, values = [], [], [], []
        for size, palette in zip(sizes, colours):
            r, c, band = _opaque(size // scale, subject=len(palette) > 1)
            lookup = np.array([0] + [colour[channel] for colour in palette], np.uint8)
            rows.append(r)
            cols.append(c)
            counts.append(len(r))
            values.append(lookup[band])
        return np.concatenate(rows), np.concatenate(cols), np.array(counts), np.concatenate(values)

    def positions(
        self, times: ArrayLike, cam_dx: ArrayLike, cam_dy: ArrayLike
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-left (x, y) of every shape at times `t` (seconds, one per frame) with the camera at
        (cam_dx, cam_dy): arrays of shape (frames, shapes). A drifting, wobbling path bounced off
        the frame edges; worked out for the whole clip at once, so a frame only looks its row up."""
        t, dx, dy = (np.asarray(a, np.float64).reshape(-1, 1) for a in (times, cam_dx, cam_dy))
        x = self.x0 + self.vx * t + self.wobble * np.sin(2.1 * t + self.phase) - dx * self.depth
        y = self.y0 + self.vy * t + self.wobble * np.cos(1.7 * t + self.phase) - dy * self.depth
        return _bounce(x, self.width - self.sizes), _bounce(y, self.height - self.sizes)

    def draw(self, frame: av.VideoFrame, x: np.ndarray, y: np.ndarray) -> None:
        """Draw every shape into `frame` with its top-left at (x, y) (one row of `positions`)."""
        for i, (plane, scale) in enumerate(zip(frame.planes, (1, 2, 2))):
            stride = plane.line_size
            offsets, counts, values = self._scatter(i, stride)
            # each shape's corner, once per pixel of it (pixels are listed shape by shape)
            corners = np.repeat((y // scale) * stride + x // scale, counts)
            corners += offsets
            plane_bytes(plane)[corners] = values

    def _scatter(self, plane: int, stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(each pixel's offset from its shape's corner in a plane of this stride, pixels per shape, value)."""
        cached = self._offsets.get((plane, stride))
        if cached is None:
            rows, cols, counts, values = (self.luma, self.chroma_u, self.chroma_v)[plane]
            cached = self._offsets[(plane, stride)] = (rows * stride + cols, counts, values)
        return cached


def _bounce(pos: np.ndarray, span: np.ndarray) -> np.ndarray:
    span = np.maximum(span, 2)
    m = np.mod(pos, 2 * span)
    return (np.where(m > span, 2 * span - m, m).astype(np.int64)) & ~1

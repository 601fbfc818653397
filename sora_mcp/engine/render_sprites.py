"""The moving shapes that make every frame differ: seeded particles and one 'subject' ring.

Drawing a dozen small shapes one by one costs more Python overhead than pixels, so the layer
is vectorised: every shape's pixels are listed once (row, column, colour, owner), and a frame
is drawn by one gather-and-scatter per plane at that frame's positions. Shapes bounce inside
the frame (never clipped) and drift against the camera move for a sense of depth (parallax).
Sizes, paths and speeds come from the seed; colours from the prompt's palette.
"""

from __future__ import annotations

import math
import random

import av
import numpy as np

from sora_mcp.engine.render_layers import even
from sora_mcp.engine.render_prompt import RGB, PromptPlan

PARTICLES = 12


def _yuv(colour: RGB) -> tuple[int, int, int]:
    """One colour in BT.601 limited-range YUV, the matrix swscale uses for the plates."""
    r, g, b = colour
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return round(y), round(u), round(v)


def _disc_mask(size: int, ring: bool) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    r = size / 2
    d2 = (yy + 0.5 - r) ** 2 + (xx + 0.5 - r) ** 2
    mask = d2 <= r * r
    if ring:  # a ring reads as the subject rather than as one more particle
        mask &= d2 >= (r * 0.55) ** 2
    return mask


class SpriteLayer:
    """All moving shapes of a clip, drawn into a yuv420p frame in a handful of numpy operations."""

    def __init__(self, plan: PromptPlan, width: int, height: int, seed: int) -> None:
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
            params.append((
                rng.uniform(0, width), rng.uniform(0, height), speed * math.cos(angle), 0.5 * speed * math.sin(angle),
                rng.uniform(4, 18) * unit, rng.uniform(0, 2 * math.pi), 0.5 if subject else rng.uniform(0.2, 1.6),
            ))
            sizes.append(size)
            colours.append(_yuv(colour))
        self.sizes = np.array(sizes)
        self.x0, self.y0, self.vx, self.vy, self.wobble, self.phase, self.depth = (np.array(p) for p in zip(*params))
        self.luma = self._pixels(sizes, colours, 0, 1)
        self.chroma_u = self._pixels(sizes, colours, 1, 2)
        self.chroma_v = self._pixels(sizes, colours, 2, 2)

    @staticmethod
    def _pixels(sizes: list[int], colours: list[tuple[int, int, int]], channel: int, scale: int):  # noqa: ANN205
        rows, cols, owner, values = [], [], [], []
        for k, (size, colour) in enumerate(zip(sizes, colours)):
            r, c = np.nonzero(_disc_mask(size // scale, ring=k == len(sizes) - 1))
            rows.append(r)
            cols.append(c)
            owner.append(np.full(r.shape, k))
            values.append(np.full(r.shape, colour[channel], np.uint8))
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(owner), np.concatenate(values)

    def positions(self, t: float, cam_dx: float, cam_dy: float) -> tuple[np.ndarray, np.ndarray]:
        """Top-left (x, y) of every shape at time t: a drifting, wobbling path bounced off the frame edges."""
        x = self.x0 + self.vx * t + self.wobble * np.sin(2.1 * t + self.phase) - cam_dx * self.depth
        y = self.y0 + self.vy * t + self.wobble * np.cos(1.7 * t + self.phase) - cam_dy * self.depth
        return _bounce(x, self.width - self.sizes), _bounce(y, self.height - self.sizes)

    def draw(self, frame: av.VideoFrame, t: float, cam_dx: float, cam_dy: float) -> None:
        x, y = self.positions(t, cam_dx, cam_dy)
        for plane, (rows, cols, owner, values), scale in zip(
            frame.planes, (self.luma, self.chroma_u, self.chroma_v), (1, 2, 2)
        ):
            flat = np.frombuffer(plane, np.uint8)
            flat[(rows + y[owner] // scale) * plane.line_size + cols + x[owner] // scale] = values


def _bounce(pos: np.ndarray, span: np.ndarray) -> np.ndarray:
    span = np.maximum(span, 2)
    m = np.mod(pos, 2 * span)
    return (np.where(m > span, 2 * span - m, m).astype(np.int64)) & ~1

"""The virtual camera: which rectangle of the (larger) background plate each frame shows.

A move is a path of (offset x, offset y, zoom) over the clip. The plate is bigger than the
frame by a margin on every side, so pans and drifts are plain crops (cheap) and only zooms
need a resize. When a clip continues another one (an extension) every move starts at the
identity framing, so the first new frame matches the source's last frame.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from sora_mcp.engine.render.layers import even

ZOOM_MOVES = {"push_in", "pull_out", "orbit"}


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Camera:
    move: str
    width: int
    height: int
    margin_x: int
    margin_y: int
    seed: int
    continuing: bool

    @property
    def plate_size(self) -> tuple[int, int]:
        return self.width + 2 * self.margin_x, self.height + 2 * self.margin_y

    def offset(self, u: float, t: float) -> tuple[float, float, float]:
        """(dx, dy, zoom) at clip fraction `u` (0..1) and time `t` seconds; zoom < 1 is closer."""
        e = u * u * (3 - 2 * u)  # smoothstep: moves ease in and out like a geared head
        mx, my = self.margin_x, self.margin_y
        span = e if self.continuing else 2 * e - 1  # continuing moves start from identity
        move = self.move
        if move == "pan_right":
            return span * mx, 0.0, 1.0
        if move == "pan_left":
            return -span * mx, 0.0, 1.0
        if move == "tilt_up":
            return 0.0, -span * my, 1.0
        if move == "tilt_down":
            return 0.0, span * my, 1.0
        if move == "push_in":
            return 0.0, 0.0, 1.0 - 0.10 * e
        if move == "pull_out":
            return 0.0, 0.0, (1.0 + 0.10 * e) if self.continuing else (0.90 + 0.10 * e)
        if move == "orbit":
            return (
                0.85 * mx * math.sin(math.pi * e),
                0.4 * my * (1 - math.cos(math.pi * e)),
                1 - 0.06 * math.sin(math.pi * e),
            )
        if move == "handheld":
            dx, dy = self._shake(t)
            if self.continuing:
                x0, y0 = self._shake(0.0)
                dx, dy = dx - x0, dy - y0
            return dx, dy, 1.0
        if move == "drift":
            angle = random.Random(self.seed).uniform(0, 2 * math.pi)
            return 0.6 * span * mx * math.cos(angle), 0.6 * span * my * math.sin(angle), 1.0
        return 0.0, 0.0, 1.0

    def _shake(self, t: float) -> tuple[float, float]:
        rng = random.Random(self.seed + 1)
        phases = [rng.uniform(0, 2 * math.pi) for _ in range(6)]
        dx = sum(math.sin(f * t + p) / (k + 1) for k, (f, p) in enumerate(zip((3.1, 7.3, 13.7), phases)))
        dy = sum(math.sin(f * t + p) / (k + 1) for k, (f, p) in enumerate(zip((2.3, 5.9, 11.1), phases[3:])))
        return 0.22 * self.margin_x * dx, 0.22 * self.margin_y * dy

    def rect(self, frame: int, frames: int, fps: int) -> tuple[Rect, float, float]:
        """The plate rectangle for `frame` of `frames`, plus the camera's (dx, dy) for parallax."""
        if self.move in ZOOM_MOVES:
            # zooms step on threes (the shapes still move every frame): each step is a swscale
            # resize, and a repeated plate is nearly free for x264; at a 10% push-in over a
            # clip a step moves the frame edge by about 2 px
            frame -= frame % 3
        u = frame / max(1, frames - 1)
        dx, dy, zoom = self.offset(u, frame / fps)
        pw, ph = self.plate_size
        w, h = min(pw, even(self.width * zoom)), min(ph, even(self.height * zoom))
        x = min(max(0, even(pw / 2 + dx - w / 2)), pw - w)
        y = min(max(0, even(ph / 2 + dy - h / 2)), ph - h)
        return Rect(x, y, w, h), dx, dy

"""Assemble one clip segment's scene: plate, sprites, camera and the timed text cards.

`build_scene` turns a prompt plan plus an optional backdrop into everything the frame loop
needs, all pre-rendered; `Scene.draw` then produces a frame with numpy copies only.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
from PIL import Image

from sora_mcp.engine.render_camera import Camera, Rect
from sora_mcp.engine.render_layers import (
    Patch,
    Planes,
    blit,
    even,
    fitted_plate,
    pad_planes,
    planes_of,
    procedural_plate,
    text_panel,
    to_yuv,
)
from sora_mcp.engine.render_prompt import RGB, PromptPlan
from sora_mcp.engine.render_sprites import SpriteLayer

WATERMARK = "local preview"


@dataclass(frozen=True)
class Card:
    """An opaque text card shown on frames [start, end)."""

    patch: Patch
    x: int
    y: int
    start: int
    end: int


@dataclass
class Scene:
    plate: Planes
    camera: Camera
    sprites: SpriteLayer
    cards: list[Card]
    frames: int
    fps: int
    _base_key: tuple[int, int, int, int] | None = None
    _base: Planes | None = None
    _base_frame: av.VideoFrame | None = None

    def draw(self, index: int, frame: av.VideoFrame | None = None) -> av.VideoFrame:
        """Frame `index` (0-based within this segment) as a yuv420p VideoFrame: drawn into `frame`
        (a writable frame of the clip's size, e.g. one the encoder is done with) or a new one."""
        # a continuation's frame 0 is one step past the source's last frame, not a repeat of it
        step = 1 if self.camera.continuing else 0
        rect, dx, dy = self.camera.rect(index + step, self.frames + step, self.fps)
        width, height = self.camera.width, self.camera.height
        key = (rect.x, rect.y, rect.w, rect.h)
        if frame is None:
            frame = av.VideoFrame(width, height, "yuv420p")
        out = planes_of(frame)
        if rect.w == width and rect.h == height:
            for i, (dst, src) in enumerate(zip(out, self.plate)):
                s = 1 if i == 0 else 2
                dst[...] = src[rect.y // s : (rect.y + rect.h) // s, rect.x // s : (rect.x + rect.w) // s]
        else:
            if key != self._base_key:  # zooms step on threes: resize once per step
                self._base_frame = self._scaled(rect)  # kept alive: _base views its buffers
                self._base = planes_of(self._base_frame)
                self._base_key = key
            assert self._base is not None
            for dst, src in zip(out, self._base):
                dst[...] = src
        self.sprites.draw(frame, index / self.fps, dx, dy)
        for card in self.cards:
            if card.start <= index < card.end:
                blit(out, card.patch, card.x, card.y)
        return frame

    def _scaled(self, rect: Rect) -> av.VideoFrame:
        src = av.VideoFrame(rect.w, rect.h, "yuv420p")
        for i, (dst, plane) in enumerate(zip(planes_of(src), self.plate)):
            s = 1 if i == 0 else 2
            dst[...] = plane[rect.y // s : (rect.y + rect.h) // s, rect.x // s : (rect.x + rect.w) // s]
        return src.reformat(width=self.camera.width, height=self.camera.height, interpolation="BILINEAR")


def _card_colours(palette: list[RGB]) -> tuple[RGB, RGB]:
    def luma(c: RGB) -> float:
        return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]

    dark = min(palette, key=luma)
    bg = (dark[0] // 2, dark[1] // 2, dark[2] // 2)
    light = max(palette, key=luma)
    return (light if luma(light) > 170 else (245, 245, 240)), bg


def _cards(plan: PromptPlan, width: int, height: int, frames: int, fps: int, lead_in: int) -> list[Card]:
    fg, bg = _card_colours(plan.palette)
    unit = height / 720 if width >= height else width / 720
    cards: list[Card] = []
    title = text_panel(
        plan.title, int(width * 0.8), int(34 * unit), fg, bg, max_lines=3, label="PREVIEW · SHOT"
    )
    title_end = min(frames, lead_in + max(int(1.5 * fps), (frames - lead_in) // 3))
    tw, th = title.size
    cards.append(Card(title, even((width - tw) / 2), even((height - th) / 2), lead_in, title_end))
    if plan.onscreen_text:
        text = text_panel(plan.onscreen_text, int(width * 0.7), int(40 * unit), fg, bg, max_lines=2)
        xw, xh = text.size
        cards.append(Card(text, even((width - xw) / 2), even((height - xh) / 2), title_end, frames))
    margin = even(24 * unit)
    for beat in plan.beats:
        patch = text_panel(
            beat.text,
            int(width * 0.45),
            int(20 * unit),
            fg,
            bg,
            max_lines=2,
            label=f"{beat.start:g}–{beat.end:g}s",
        )
        start, end = lead_in + int(beat.start * fps), lead_in + int(beat.end * fps)
        cards.append(Card(patch, margin, margin, start, min(end, frames)))
    if plan.dialogue:
        slot = (frames - lead_in) / len(plan.dialogue)
        for i, line in enumerate(plan.dialogue):
            patch = text_panel(
                line, int(width * 0.8), int(24 * unit), (255, 255, 255), (0, 0, 0), max_lines=2
            )
            pw, ph = patch.size
            cards.append(
                Card(
                    patch,
                    even((width - pw) / 2),
                    even(height - ph - 3 * margin),
                    lead_in + int(i * slot),
                    lead_in + int((i + 1) * slot),
                )
            )
    mark = text_panel(WATERMARK, width, int(14 * unit), (235, 235, 235), (20, 20, 20), max_lines=1)
    mw, mh = mark.size
    cards.append(Card(mark, even(width - mw - margin), even(height - mh - margin), 0, frames))
    return cards


def build_scene(
    plan: PromptPlan,
    width: int,
    height: int,
    frames: int,
    fps: int,
    seed: int,
    backdrop: Image.Image | Planes | None,
) -> Scene:
    """Pre-render a segment. `backdrop`: an image to fit as the plate, or the YUV planes of a
    frame to continue from (mirrored out to the plate size), or None for a procedural plate."""
    continuing = isinstance(backdrop, tuple)
    camera = Camera(plan.camera, width, height, even(width * 0.1), even(height * 0.1), seed, continuing)
    size = camera.plate_size
    if isinstance(backdrop, tuple):
        plate = pad_planes(backdrop, camera.margin_x, camera.margin_y)
    elif backdrop is not None:
        plate = to_yuv(fitted_plate(backdrop, size, plan.monochrome))
    else:
        plate = to_yuv(procedural_plate(plan, size, seed), size)
    # a continuation holds its text cards back half a second so the seam stays seamless
    lead_in = min(frames, fps // 2) if continuing else 0
    return Scene(
        plate=plate,
        camera=camera,
        sprites=SpriteLayer(plan, width, height, seed, fps),
        cards=_cards(plan, width, height, frames, fps, lead_in),
        frames=frames,
        fps=fps,
    )

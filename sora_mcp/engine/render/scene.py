"""Assemble one clip segment's scene: plate, sprites, camera and the timed text cards.

`build_scene` turns a prompt plan plus an optional backdrop into everything the frame loop
needs, all pre-rendered; `Scene.draw` then produces a frame with numpy copies only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image

from sora_mcp.engine.render.camera import Camera, Rect
from sora_mcp.engine.render.layers import (
    SWS_THREADS,
    Patch,
    Planes,
    blit,
    even,
    fitted_plate,
    pad_planes,
    planes_of,
    procedural_plate,
    to_yuv,
)
from sora_mcp.engine.render.plan import RGB, PromptPlan
from sora_mcp.engine.render.sprites import SpriteLayer
from sora_mcp.engine.render.text import text_panel

WATERMARK = "local preview"


@dataclass
class Card:
    """An opaque text card shown on frames [start, end), placed by `place` (its size → top-left).

    `make` draws it; a card is drawn when its first frame is, so only the cards on screen at
    frame 0 stand between the scene and the first encoded frame."""

    make: Callable[[], Patch]
    place: Callable[[tuple[int, int]], tuple[int, int]]
    start: int
    end: int
    _drawn: tuple[Patch, int, int] | None = None

    def drawn(self) -> tuple[Patch, int, int]:
        if self._drawn is None:
            patch = self.make()
            self._drawn = (patch, *self.place(patch.size))
        return self._drawn


@dataclass(frozen=True)
class _CameraPath:
    rects: list[Rect]
    sprite_x: np.ndarray  # (frames, shapes)
    sprite_y: np.ndarray


@dataclass
class Scene:
    plate: Planes
    camera: Camera
    sprites: SpriteLayer
    cards: list[Card]
    frames: int
    fps: int
    # the procedural plate's quarter-size drawing (None for plates made from pictures): zooms
    # resample a half-size plate made from it, see `_zoom_source`
    drawing: Image.Image | None = None
    _half: Planes | None = None
    _base_rect: Rect | None = None
    _base_frame: av.VideoFrame | None = None  # the current zoom step's resized plate
    _path: _CameraPath | None = None

    def draw(self, index: int, frame: av.VideoFrame | None = None) -> av.VideoFrame:
        """Frame `index` (0-based within this segment) as a yuv420p VideoFrame: drawn into `frame`
        (a writable frame of the clip's size, e.g. one the encoder is done with) or a new one.

        The last frame of a zoom step is drawn on the step's resized plate itself instead (no
        copy: nothing needs it after), so the frame returned is then not `frame`."""
        if self._path is None:
            self._path = self._camera_path()
        rect = self._path.rects[index]
        width, height = self.camera.width, self.camera.height
        if rect.w == width and rect.h == height:
            frame = av.VideoFrame(width, height, "yuv420p") if frame is None else frame
            out = planes_of(frame)
            for i, (dst, src) in enumerate(zip(out, self.plate)):
                s = 1 if i == 0 else 2
                dst[...] = src[rect.y // s : (rect.y + rect.h) // s, rect.x // s : (rect.x + rect.w) // s]
        else:
            if rect != self._base_rect:  # zooms step on threes: resize once per step
                self._base_frame = self._scaled(rect)
                self._base_rect = rect
            assert self._base_frame is not None
            if index + 1 == self.frames or self._path.rects[index + 1] != rect:
                frame, self._base_frame, self._base_rect = self._base_frame, None, None
                out = planes_of(frame)
            else:
                frame = av.VideoFrame(width, height, "yuv420p") if frame is None else frame
                out = planes_of(frame)
                for dst, src in zip(out, planes_of(self._base_frame)):
                    dst[...] = src
        self.sprites.draw(frame, self._path.sprite_x[index], self._path.sprite_y[index])
        for card in self.cards:
            if card.start <= index < card.end:
                blit(out, *card.drawn())
        return frame

    def _camera_path(self) -> _CameraPath:
        """Every frame's plate rectangle and sprite positions (the shapes drift against the
        camera: parallax), worked out once for the segment."""
        # a continuation's frame 0 is one step past the source's last frame, not a repeat of it
        step = 1 if self.camera.continuing else 0
        moves = [self.camera.rect(index + step, self.frames + step, self.fps) for index in range(self.frames)]
        t = np.arange(self.frames) / self.fps
        x, y = self.sprites.positions(t, [dx for _, dx, _ in moves], [dy for _, _, dy in moves])
        return _CameraPath([rect for rect, _, _ in moves], x, y)

    def _scaled(self, rect: Rect) -> av.VideoFrame:
        """The plate's `rect` resized to the frame: one zoom step."""
        planes, scale, layout = self._zoom_source()
        src = av.VideoFrame(rect.w // scale, rect.h // scale, layout)
        for i, (dst, plane) in enumerate(zip(planes_of(src), planes)):
            s = scale if i == 0 or layout == "yuv444p" else 2 * scale
            rows, cols = dst.shape
            y, x = min(rect.y // s, plane.shape[0] - rows), min(rect.x // s, plane.shape[1] - cols)
            dst[...] = plane[y : y + rows, x : x + cols]
        # each step is a new swscale set-up (the crop's size changes). Exact bilinear: it costs
        # less to set up than the fast one, and it keeps the zoomed frames aligned with the
        # unzoomed ones (the fast one shifts the picture by about half a source pixel)
        return src.reformat(
            width=self.camera.width,
            height=self.camera.height,
            format="yuv420p",
            interpolation="BILINEAR",
            threads=SWS_THREADS,
        )

    def _zoom_source(self) -> tuple[Planes, int, str]:
        """The planes zoom steps resample, their scale down from the plate, and their layout.

        A procedural plate holds no detail finer than its quarter-size drawing, so zooms work
        from a half-size plate made from that drawing, for about 40% less scaling work per step.
        It keeps its chroma at full resolution (4:4:4), which is the full plate's 4:2:0 chroma
        resolution, so a crop of it is exact in every plane whatever the rectangle's parity:
        the frames match those resampled from the full plate to about 50 dB in each plane.
        Plates made from pictures (an input reference, a source clip's last frame) keep their
        detail and are resampled from the full plate."""
        if self.drawing is None:
            return self.plate, 1, "yuv420p"
        if self._half is None:
            pw, ph = self.camera.plate_size
            self._half = to_yuv(self.drawing, (even(pw / 2), even(ph / 2)), layout="yuv444p")
        return self._half, 2, "yuv444p"


def _card_colours(palette: list[RGB]) -> tuple[RGB, RGB]:
    def luma(c: RGB) -> float:
        return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]

    dark = min(palette, key=luma)
    bg = (dark[0] // 2, dark[1] // 2, dark[2] // 2)
    light = max(palette, key=luma)
    return (light if luma(light) > 170 else (245, 245, 240)), bg


@functools.lru_cache(maxsize=16)
def _watermark(width: int, font_size: int) -> Patch:
    """The same for every clip of a size, so drawn once per size (its planes are read-only)."""
    patch = text_panel(WATERMARK, width, font_size, (235, 235, 235), (20, 20, 20), max_lines=1)
    for plane in patch.planes:
        plane.flags.writeable = False
    return patch


def _cards(plan: PromptPlan, width: int, height: int, frames: int, fps: int, lead_in: int) -> list[Card]:
    fg, bg = _card_colours(plan.palette)
    unit = height / 720 if width >= height else width / 720
    margin = even(24 * unit)

    def centred(size: tuple[int, int]) -> tuple[int, int]:
        return even((width - size[0]) / 2), even((height - size[1]) / 2)

    def top_left(size: tuple[int, int]) -> tuple[int, int]:
        return margin, margin

    def above_bottom(size: tuple[int, int]) -> tuple[int, int]:
        return even((width - size[0]) / 2), even(height - size[1] - 3 * margin)

    def bottom_right(size: tuple[int, int]) -> tuple[int, int]:
        return even(width - size[0] - margin), even(height - size[1] - margin)

    def panel(
        text: str, max_width: int, size: int, fg: RGB, bg: RGB, lines: int, label: str = ""
    ) -> Callable[[], Patch]:
        return lambda: text_panel(text, max_width, size, fg, bg, max_lines=lines, label=label)

    cards: list[Card] = []
    title_end = min(frames, lead_in + max(int(1.5 * fps), (frames - lead_in) // 3))
    title = panel(plan.title, int(width * 0.8), int(34 * unit), fg, bg, 3, "PREVIEW · SHOT")
    cards.append(Card(title, centred, lead_in, title_end))
    if plan.onscreen_text:
        text = panel(plan.onscreen_text, int(width * 0.7), int(40 * unit), fg, bg, 2)
        cards.append(Card(text, centred, title_end, frames))
    for beat in plan.beats:
        label = f"{beat.start:g}–{beat.end:g}s"
        start, end = lead_in + int(beat.start * fps), lead_in + int(beat.end * fps)
        cards.append(
            Card(
                panel(beat.text, int(width * 0.45), int(20 * unit), fg, bg, 2, label),
                top_left,
                start,
                min(end, frames),
            )
        )
    if plan.dialogue:
        slot = (frames - lead_in) / len(plan.dialogue)
        for i, line in enumerate(plan.dialogue):
            patch = panel(line, int(width * 0.8), int(24 * unit), (255, 255, 255), (0, 0, 0), 2)
            cards.append(Card(patch, above_bottom, lead_in + int(i * slot), lead_in + int((i + 1) * slot)))
    mark = functools.partial(_watermark, width, int(14 * unit))
    cards.append(Card(mark, bottom_right, 0, frames))
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
    drawing = None
    if isinstance(backdrop, tuple):
        plate = pad_planes(backdrop, camera.margin_x, camera.margin_y)
    elif backdrop is not None:
        plate = to_yuv(fitted_plate(backdrop, size, plan.monochrome))
    else:
        drawing = procedural_plate(plan, size, seed)
        plate = to_yuv(drawing, size)
    # a continuation holds its text cards back half a second so the seam stays seamless
    lead_in = min(frames, fps // 2) if continuing else 0
    return Scene(
        plate=plate,
        camera=camera,
        sprites=SpriteLayer(plan, width, height, seed, fps),
        cards=_cards(plan, width, height, frames, fps, lead_in),
        frames=frames,
        fps=fps,
        drawing=drawing,
    )

"""Text cards (title, captions, dialogue, watermark) as opaque YUV 4:2:0 patches.

Text is set in Pillow's built-in font (no font files needed). Pillow renders every glyph of
every string afresh, which made a render's cards cost about as much as everything else drawn
before its first frame; so each glyph is rendered once per process and size, by Pillow, as a
coverage mask, and a card's lines are put together from those masks the way Pillow lays them
out (the pen advances glyph by glyph, each glyph laid over the line so far: the same pixels
as Pillow's own line, which a test checks). The card's planes are then worked out straight
from the coverage: a card is two colours and the text's antialiasing between them, and
YUV is linear in RGB, so no RGB image and no conversion is needed.
"""

from __future__ import annotations

import functools
import threading

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from sora_mcp.engine.render.layers import Patch, bt601, even, shade
from sora_mcp.engine.render.plan import RGB

Font = ImageFont.ImageFont | ImageFont.FreeTypeFont

# Fonts and glyphs are shared by every render in the process. Pillow does not document font
# objects as thread-safe, so whatever measures or renders text holds this lock.
_FONT_LOCK = threading.Lock()
_fonts: dict[int, Font] = {}


def _font(size: int) -> Font:
    """The built-in font at `size` (call with _FONT_LOCK held)."""
    if size not in _fonts:
        _fonts[size] = ImageFont.load_default(size=max(8, size))
    return _fonts[size]


@functools.lru_cache(maxsize=4096)
def _glyph(size: int, char: str) -> tuple[np.ndarray, int, int, float]:
    """One character at `size` (call with _FONT_LOCK held): its coverage mask (read-only), the
    mask's offset from the pen at the top of the line, and how far the pen then advances."""
    font = _font(size)
    x0, y0, x1, y1 = (int(edge) for edge in font.getbbox(char))  # whole pixels (typed as floats)
    image = Image.new("L", (max(1, x1 - x0), max(1, y1 - y0)), 0)
    ImageDraw.Draw(image).text((-x0, -y0), char, font=font, fill=255)
    mask = np.asarray(image)
    mask.flags.writeable = False
    return mask, x0, y0, font.getlength(char)


def _length(size: int, text: str) -> float:
    return sum(_glyph(size, char)[3] for char in text)


def _wrap(text: str, size: int, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap to `width` pixels; past `max_lines` the last line ends in "…"."""
    words = text.split()
    space = _length(size, " ")
    lines: list[str] = []
    used = 0.0
    for word in words:
        length = _length(size, word)
        if lines and used + space + length <= width:
            lines[-1] += " " + word
            used += space + length
        else:
            lines.append(word)
            used = length
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(".,;:") + " …"
    return lines or [""]


def _set(coverage: np.ndarray, size: int, text: str, x: int, y: int) -> None:
    """Lay `text` into `coverage` with the pen starting at (x, y), the top-left of the line."""
    pen = 0.0
    for char in text:
        mask, dx, dy, advance = _glyph(size, char)
        left, top = x + round(pen) + dx, y + dy
        pen += advance
        bottom, right = max(top + mask.shape[0], 0), max(left + mask.shape[1], 0)
        region = coverage[max(top, 0) : bottom, max(left, 0) : right]
        if region.size:
            skip_y, skip_x = max(-top, 0), max(-left, 0)  # the part of the glyph off the card
            part = mask[skip_y : skip_y + region.shape[0], skip_x : skip_x + region.shape[1]]
            if not region.any():
                region[...] = part
                continue
            # where glyphs overlap, Pillow lays each over the line so far: new + old * (255 - new) / 255,
            # rounded as its MULDIV255 does
            t = region * (255 - part.astype(np.uint16)) + 128
            region[...] = part + (((t >> 8) + t) >> 8)


def _yuv(colour: RGB) -> np.ndarray:
    return bt601(colour).astype(np.float32)


def text_panel(
    text: str, max_width: int, font_size: int, fg: RGB, bg: RGB, max_lines: int = 3, label: str = ""
) -> Patch:
    """An opaque card with wrapped text (and a small label above it): opaque so the frame loop
    copies it instead of blending."""
    small = int(font_size * 0.55)
    pad = max(6, font_size // 2)
    line_h = int(font_size * 1.25)
    label_h = int(font_size * 0.8) if label else 0
    with _FONT_LOCK:
        lines = _wrap(text, font_size, max_width - 2 * pad, max_lines)
        width = int(max(_length(font_size, line) for line in lines)) + 2 * pad
        if label:
            width = max(width, int(_length(small, label)) + 2 * pad)
        width = min(max_width, width)  # a label too long for the card is cut at its edge
        width, height = even(width + 1), even(len(lines) * line_h + label_h + 2 * pad + 1)
        words = np.zeros((height, width), np.uint8)
        for i, line in enumerate(lines):
            _set(words, font_size, line, pad, pad + label_h + i * line_h)
        inks = [(fg, words)]
        if label:
            marks = np.zeros((height, width), np.uint8)
            _set(marks, small, label, pad, pad)
            inks.append((shade(fg, 0.8), marks))
    return Patch(_planes(bg, inks))


def _planes(bg: RGB, inks: list[tuple[RGB, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V of a `bg` card with each ink laid on by its coverage: bg + (ink - bg) * coverage / 255.

    Inks are not expected to overlap (where they do, the later one wins in luma)."""
    base = _yuv(bg)
    levels = np.arange(256, dtype=np.float32)
    height, width = inks[0][1].shape
    luma = np.full((height, width), round(float(base[0])), np.uint8)
    chroma = np.empty((2, height // 2, width // 2), np.float32)
    chroma[...] = base[1:, None, None]
    for k, (colour, coverage) in enumerate(inks):
        rows = np.flatnonzero(coverage.any(axis=1))
        if rows.size == 0:
            continue
        top, bottom = rows[0] & ~1, rows[-1] + 1 + (rows[-1] + 1) % 2  # whole 2x2 blocks
        band = coverage[top:bottom]
        step = (_yuv(colour) - base) / 255
        lut = np.clip(np.rint(base[0] + step[0] * levels), 0, 255).astype(np.uint8)
        inked = lut.take(band)
        if k:  # the first ink lays the background down too (its lut[0]); later ones keep it
            inked = np.where(band > 0, inked, luma[top:bottom])
        luma[top:bottom] = inked
        # 4:2:0 chroma of the blend is the blend by the coverage averaged over each 2x2 block
        c = band[:, : 2 * (width // 2)].astype(np.uint16)
        quad = (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]).astype(np.float32) * 0.25
        chroma[:, top // 2 : bottom // 2] += step[1:, None, None] * quad
    u, v = np.clip(np.rint(chroma), 0, 255).astype(np.uint8)
    return luma, u, v

"""Pre-render the static pieces of a preview clip once, as YUV 4:2:0 planes ready to copy.

Frame generation must cost far less than encoding, so everything that PIL draws (the
background plate, the title card, captions, the watermark) is drawn here once and converted
to the encoder's pixel format; the per-frame loop only slices and copies numpy arrays. Positions and shapes come from the seed (so a remix keeps the
layout); colours and words come from the prompt plan.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from sora_mcp.engine.render_prompt import RGB, PromptPlan

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


_SMALL = 64 * 1024  # pixels; below this numpy beats setting up a swscale context
# swscale's default (threads=0, "auto") starts a thread pool for every new conversion, which
# costs several times the conversion itself; renders are CPU-bound already, so one thread each
SWS_THREADS = 1


def to_yuv(img: Image.Image, size: tuple[int, int] | None = None) -> Planes:
    """RGB image → Y, U, V planes (BT.601 limited range, as swscale converts for the encoder),
    scaled to `size` (even width and height) in the same pass when given."""
    rgb = np.asarray(img.convert("RGB"))
    if size is None and rgb.shape[0] * rgb.shape[1] <= _SMALL:
        return _small_to_yuv(rgb)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    width, height = size or img.size
    return planes_of(
        frame.reformat(
            width=width, height=height, format="yuv420p", interpolation="BILINEAR", threads=SWS_THREADS
        ),
        copy=True,
    )


def _small_to_yuv(rgb: np.ndarray) -> Planes:
    """The same matrix in numpy, for text cards: no converter set-up per card."""
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    h, w = rgb.shape[0] // 2, rgb.shape[1] // 2
    c = f[: 2 * h, : 2 * w]
    q = (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2]) * 0.25
    u = 128 + (-37.797 * q[..., 0] - 74.203 * q[..., 1] + 112.0 * q[..., 2]) / 255
    v = 128 + (112.0 * q[..., 0] - 93.786 * q[..., 1] - 18.214 * q[..., 2]) / 255
    return tuple(np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, u, v))  # type: ignore[return-value]


def planes_of(frame: av.VideoFrame, copy: bool = False) -> Planes:
    """Numpy views (writable) on a yuv420p frame's planes, trimmed of row padding."""
    out = []
    for plane in frame.planes:
        arr = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]
        out.append(arr.copy() if copy else arr)
    return out[0], out[1], out[2]


def even(value: float) -> int:
    return int(value) & ~1


def _shade(colour: RGB, factor: float) -> RGB:
    return (
        min(255, int(colour[0] * factor)),
        min(255, int(colour[1] * factor)),
        min(255, int(colour[2] * factor)),
    )


def _luma(colour: RGB) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def procedural_plate(plan: PromptPlan, size: tuple[int, int], seed: int) -> Image.Image:
    """A soft painted backdrop for a plate of `size`: palette gradient, seeded blobs and
    silhouettes. Drawn at quarter size (scale it up with `to_yuv(img, size)`): it is meant soft."""
    rng = random.Random(seed)
    pw, ph = size
    sw, sh = max(8, pw // 4), max(8, ph // 4)
    pal = plan.palette
    light = {"night": 0.75}.get(plan.mood, 1.0)
    top, bottom = _shade(pal[0], light), _shade(pal[1 % len(pal)], light)
    # the sky reaches the second colour by mid-frame, so both lead colours stay in view
    ramp = np.clip(np.linspace(-0.1, 1.9, sh, dtype=np.float32), 0, 1)[:, None, None]
    grad = np.asarray(top, np.float32) * (1 - ramp) + np.asarray(bottom, np.float32) * ramp
    img = Image.fromarray(np.repeat(grad, sw, axis=1).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for i in range(7):  # soft light blobs; where they sit is the seed's layout
        x, y = rng.uniform(0, sw), rng.uniform(0, sh * 0.7)
        r = rng.uniform(0.06, 0.16) * sh
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_shade(pal[(2 + i) % len(pal)], light))
    # blurred at half this size and scaled back: the same soft blobs (within 3 levels) for
    # half the cost, since a blur this wide leaves nothing the smaller image cannot hold
    radius = max(2, sh // 30)
    if sw >= 64 and sh >= 64:
        img = img.reduce(2).filter(ImageFilter.GaussianBlur(radius / 2)).resize(img.size, Image.BILINEAR)
    else:
        img = img.filter(ImageFilter.GaussianBlur(radius))
    draw = ImageDraw.Draw(img)
    dark = _shade(min(pal, key=_luma), 0.6 * light)
    horizon = sh * rng.uniform(0.72, 0.82)
    points = [(0.0, float(sh))]
    for i in range(9):  # a skyline/hill silhouette gives the camera move something to read
        points.append((sw * i / 8, horizon - rng.uniform(0, sh * 0.12)))
    points.append((float(sw), float(sh)))
    draw.polygon(points, fill=dark)
    for _ in range(3):  # set pieces standing in for the subject's surroundings
        x, w = rng.uniform(0.05, 0.85) * sw, rng.uniform(0.04, 0.12) * sw
        h = rng.uniform(0.15, 0.35) * sh
        draw.rectangle([x, horizon - h, x + w, sh], fill=_shade(dark, 1.4))
    return ImageOps.grayscale(img).convert("RGB") if plan.monochrome else img


def fitted_plate(img: Image.Image, size: tuple[int, int], monochrome: bool) -> Image.Image:
    """An input image as the backdrop: centre-cropped to the plate's aspect and resized."""
    fitted = ImageOps.fit(ImageOps.exif_transpose(img).convert("RGB"), size, Image.BILINEAR)
    return ImageOps.grayscale(fitted).convert("RGB") if monochrome else fitted


def pad_planes(planes: Planes, mx: int, my: int) -> Planes:
    """Grow a frame into a plate by mirroring its edges, so the centre crop is the frame exactly."""
    y, u, v = planes
    return (
        np.pad(y, ((my, my), (mx, mx)), mode="reflect"),
        np.pad(u, ((my // 2, my // 2), (mx // 2, mx // 2)), mode="reflect"),
        np.pad(v, ((my // 2, my // 2), (mx // 2, mx // 2)), mode="reflect"),
    )


@dataclass(frozen=True)
class Patch:
    """A pre-rendered opaque rectangle of YUV pixels, placed at even (x, y)."""

    planes: Planes

    @property
    def size(self) -> tuple[int, int]:
        return self.planes[0].shape[1], self.planes[0].shape[0]


_fonts = threading.local()  # per thread: font objects are not documented as thread-safe


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font (no font files needed), cached because loading it decodes base64."""
    cache: dict[int, ImageFont.ImageFont | ImageFont.FreeTypeFont] = getattr(_fonts, "cache", None) or {}
    _fonts.cache = cache
    if size not in cache:
        cache[size] = ImageFont.load_default(size=max(8, size))
    return cache[size]


def _wrap(
    text: str, font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int, max_lines: int
) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1].rstrip(".,;:") + " …"
    return lines or [""]


def text_panel(
    text: str, max_width: int, font_size: int, fg: RGB, bg: RGB, max_lines: int = 3, label: str = ""
) -> Patch:
    """An opaque card with wrapped text: opaque so the frame loop copies it instead of blending."""
    font = _font(font_size)
    small = _font(int(font_size * 0.55))
    pad = max(6, font_size // 2)
    lines = _wrap(text, font, max_width - 2 * pad, max_lines)
    line_h = int(font_size * 1.25)
    label_h = int(font_size * 0.8) if label else 0
    width = min(max_width, int(max(font.getlength(line) for line in lines)) + 2 * pad)
    if label:
        width = max(width, int(small.getlength(label)) + 2 * pad)
    width, height = even(width + 1), even(len(lines) * line_h + label_h + 2 * pad + 1)
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    if label:
        draw.text((pad, pad), label, font=small, fill=_shade(fg, 0.8))
    for i, line in enumerate(lines):
        draw.text((pad, pad + label_h + i * line_h), line, font=font, fill=fg)
    return Patch(to_yuv(img))


def blit(frame: Planes, patch: Patch, x: int, y: int) -> None:
    """Copy `patch` into `frame` at even (x, y), clipped to the frame."""
    fy = frame[0]
    h, w = fy.shape
    pw, ph = patch.size
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + pw, w), min(y + ph, h)
    if x1 <= x0 or y1 <= y0:
        return
    for i, (dst, src) in enumerate(zip(frame, patch.planes)):
        s = 1 if i == 0 else 2
        region = dst[y0 // s : y1 // s, x0 // s : x1 // s]
        region[...] = src[(y0 - y) // s : (y1 - y) // s, (x0 - x) // s : (x1 - x) // s]

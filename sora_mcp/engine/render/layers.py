"""Pre-render the static pieces of a preview clip once, as YUV 4:2:0 planes ready to copy.

Frame generation must cost far less than encoding, so the background plate is drawn here
once (and text cards in `text`) and converted to the encoder's pixel format; the
per-frame loop only slices and copies numpy arrays (`blit`). Positions and shapes come from
the seed (so a remix keeps the layout); colours come from the prompt plan.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import av
import numpy as np
from av.video.plane import VideoPlane
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from sora_mcp.engine.render.plan import RGB, PromptPlan

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


# swscale's default (threads=0, "auto") starts a thread pool for every new conversion, which
# costs several times the conversion itself; renders are CPU-bound already, so one thread each
SWS_THREADS = 1


_BT601 = (
    np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], np.float64).T
    / 255
)
_BT601_OFFSET = np.array([16.0, 128.0, 128.0])


def bt601(rgb: np.ndarray | tuple[int, int, int]) -> np.ndarray:
    """Y, U, V (unrounded, last axis) of RGB colours: BT.601 limited range, the matrix swscale
    uses when it converts the plates for the encoder."""
    return np.asarray(rgb, np.float64) @ _BT601 + _BT601_OFFSET


def to_yuv(img: Image.Image, size: tuple[int, int] | None = None, layout: str = "yuv420p") -> Planes:
    """RGB image → Y, U, V planes (BT.601 limited range, as swscale converts for the encoder),
    scaled to `size` (even width and height) in the same pass when given; `layout` yuv444p keeps
    chroma at full resolution."""
    frame = av.VideoFrame.from_ndarray(np.asarray(img.convert("RGB")), format="rgb24")
    width, height = size or img.size
    # views on the converted frame's buffers, which they keep alive: copying them out would
    # cost one more pass over a plate-sized block of fresh memory, page faults and all
    return planes_of(
        frame.reformat(
            width=width, height=height, format=layout, interpolation="BILINEAR", threads=SWS_THREADS
        )
    )


def plane_bytes(plane: VideoPlane) -> np.ndarray:
    """A flat uint8 view (writable, no copy) of one frame plane's memory, row padding included."""
    return np.frombuffer(memoryview(plane), np.uint8)


def planes_of(frame: av.VideoFrame, copy: bool = False) -> Planes:
    """Numpy views (writable) on a yuv420p frame's planes, trimmed of row padding."""
    out = []
    for plane in frame.planes:
        arr = plane_bytes(plane).reshape(plane.height, plane.line_size)[:, : plane.width]
        out.append(arr.copy() if copy else arr)
    return out[0], out[1], out[2]


def even(value: float) -> int:
    return int(value) & ~1


def shade(colour: RGB, factor: float) -> RGB:
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
    top, bottom = shade(pal[0], light), shade(pal[1 % len(pal)], light)
    # the sky reaches the second colour by mid-frame, so both lead colours stay in view
    ramp = np.clip(np.linspace(-0.1, 1.9, sh, dtype=np.float32), 0, 1)[:, None, None]
    grad = np.asarray(top, np.float32) * (1 - ramp) + np.asarray(bottom, np.float32) * ramp
    img = Image.fromarray(np.repeat(grad, sw, axis=1).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for i in range(7):  # soft light blobs; where they sit is the seed's layout
        x, y = rng.uniform(0, sw), rng.uniform(0, sh * 0.7)
        r = rng.uniform(0.06, 0.16) * sh
        draw.ellipse([x - r, y - r, x + r, y + r], fill=shade(pal[(2 + i) % len(pal)], light))
    # blurred at half this size and scaled back: the same soft blobs (within 3 levels) for
    # half the cost, since a blur this wide leaves nothing the smaller image cannot hold
    radius = max(2, sh // 30)
    if sw >= 64 and sh >= 64:
        img = (
            img.reduce(2)
            .filter(ImageFilter.GaussianBlur(radius / 2))
            .resize(img.size, Image.Resampling.BILINEAR)
        )
    else:
        img = img.filter(ImageFilter.GaussianBlur(radius))
    draw = ImageDraw.Draw(img)
    dark = shade(min(pal, key=_luma), 0.6 * light)
    horizon = sh * rng.uniform(0.72, 0.82)
    points = [(0.0, float(sh))]
    for i in range(9):  # a skyline/hill silhouette gives the camera move something to read
        points.append((sw * i / 8, horizon - rng.uniform(0, sh * 0.12)))
    points.append((float(sw), float(sh)))
    draw.polygon(points, fill=dark)
    for _ in range(3):  # set pieces standing in for the subject's surroundings
        x, w = rng.uniform(0.05, 0.85) * sw, rng.uniform(0.04, 0.12) * sw
        h = rng.uniform(0.15, 0.35) * sh
        draw.rectangle([x, horizon - h, x + w, sh], fill=shade(dark, 1.4))
    return ImageOps.grayscale(img).convert("RGB") if plan.monochrome else img


def fitted_plate(img: Image.Image, size: tuple[int, int], monochrome: bool) -> Image.Image:
    """An input image as the backdrop: centre-cropped to the plate's aspect and resized."""
    fitted = ImageOps.fit(ImageOps.exif_transpose(img).convert("RGB"), size, Image.Resampling.BILINEAR)
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

"""The clip's stills: a WebP thumbnail (the frame a third of the way in) and a JPEG spritesheet.

They are made from the drawn frames as they pass (`Stills.offer`), so stills cost a handful of
small conversions instead of a second decode of the MP4.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

from sora_mcp.engine.render_layers import Planes

SPRITE_TILES = 16
SPRITE_COLUMNS = 4


def tile_indexes(total: int) -> list[int]:
    """Up to 16 evenly spaced frame indexes, first and last included."""
    tiles = min(SPRITE_TILES, total)
    return sorted({round(k * (total - 1) / max(1, tiles - 1)) for k in range(tiles)})


def thumbnail_index(total: int) -> int:
    return total // 3


def _image(planes: Planes) -> Image.Image:
    """yuv420p planes → RGB image at the same size (one swscale conversion)."""
    y, u, v = planes
    height, width = y.shape
    packed = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(height * 3 // 2, width)
    return av.VideoFrame.from_ndarray(packed, format="yuv420p").to_image()


def _quarter(plane: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Shrink a plane 4x each way by averaging 4x4 blocks (integer maths: cheap, deterministic)."""
    p = plane[: rows * 4, : cols * 4]
    half = (p[0::2, 0::2].astype(np.uint16) + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2] + 2) >> 2
    return ((half[0::2, 0::2] + half[1::2, 0::2] + half[0::2, 1::2] + half[1::2, 1::2] + 2) >> 2).astype(
        np.uint8
    )


class Stills:
    """Collects the stills while frames are drawn, so their cost overlaps with encoding.

    `offer(index, planes)` for every frame in order: the thumbnail is written as soon as its
    frame arrives and each spritesheet tile is shrunk (in YUV, with numpy) on arrival;
    `finish()` converts the assembled sheet to RGB once and writes it. Tiles are a quarter of
    the frame each way, rounded down to even sizes.
    """

    def __init__(self, total: int, width: int, height: int, thumbnail: Path, spritesheet: Path) -> None:
        self.total, self.thumbnail, self.spritesheet = total, thumbnail, spritesheet
        self.tiles = {index: k for k, index in enumerate(tile_indexes(total))}
        self.cols = min(SPRITE_COLUMNS, len(self.tiles))
        rows = -(-len(self.tiles) // self.cols)
        self.tw, self.th = max(2, width // 8 * 2), max(2, height // 8 * 2)
        self.sheet = (
            np.zeros((rows * self.th, self.cols * self.tw), np.uint8),
            np.full((rows * self.th // 2, self.cols * self.tw // 2), 128, np.uint8),
            np.full((rows * self.th // 2, self.cols * self.tw // 2), 128, np.uint8),
        )

    def wants(self, index: int) -> bool:
        return index in self.tiles or index == thumbnail_index(self.total)

    def offer(self, index: int, planes: Planes) -> None:
        if index == thumbnail_index(self.total):
            _image(planes).save(self.thumbnail, "WEBP", quality=80, method=0)
        if index in self.tiles:
            k = self.tiles[index]
            for i, (dst, src) in enumerate(zip(self.sheet, planes)):
                s = 1 if i == 0 else 2
                rows, cols = self.th // s, self.tw // s
                r0, c0 = (k // self.cols) * rows, (k % self.cols) * cols
                dst[r0 : r0 + rows, c0 : c0 + cols] = _quarter(src, rows, cols)

    def finish(self) -> None:
        _image(self.sheet).save(self.spritesheet, "JPEG", quality=85)

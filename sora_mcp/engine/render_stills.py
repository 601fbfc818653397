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


def _image(planes: Planes, out_w: int, out_h: int) -> Image.Image:
    y, u, v = planes
    if out_w * 2 <= y.shape[1] and y.shape[0] % 4 == 0 and y.shape[1] % 4 == 0:
        y, u, v = y[::2, ::2], u[::2, ::2], v[::2, ::2]  # a tile: halve first, AREA-average the rest
    height, width = y.shape
    packed = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(height * 3 // 2, width)
    frame = av.VideoFrame.from_ndarray(packed, format="yuv420p")
    return frame.reformat(width=out_w, height=out_h, format="rgb24", interpolation="AREA").to_image()


class Stills:
    """Collects the stills while frames are drawn, so their cost overlaps with encoding.

    `offer(index, planes)` for every frame in order: the thumbnail is written as soon as its
    frame arrives and each spritesheet tile is shrunk on arrival; `finish()` writes the sheet.
    """

    def __init__(self, total: int, width: int, height: int, thumbnail: Path, spritesheet: Path) -> None:
        self.total, self.width, self.height = total, width, height
        self.thumbnail, self.spritesheet = thumbnail, spritesheet
        self.tiles = {index: k for k, index in enumerate(tile_indexes(total))}
        self.cols = min(SPRITE_COLUMNS, len(self.tiles))
        self.tile_size = (max(2, width // 4), max(2, height // 4))
        rows = -(-len(self.tiles) // self.cols)
        self.sheet = Image.new("RGB", (self.cols * self.tile_size[0], rows * self.tile_size[1]))

    def wants(self, index: int) -> bool:
        return index in self.tiles or index == thumbnail_index(self.total)

    def offer(self, index: int, planes: Planes) -> None:
        if index == thumbnail_index(self.total):
            _image(planes, self.width, self.height).save(self.thumbnail, "WEBP", quality=80, method=0)
        if index in self.tiles:
            k = self.tiles[index]
            tw, th = self.tile_size
            self.sheet.paste(_image(planes, tw, th), ((k % self.cols) * tw, (k // self.cols) * th))

    def finish(self) -> None:
        self.sheet.save(self.spritesheet, "JPEG", quality=85)

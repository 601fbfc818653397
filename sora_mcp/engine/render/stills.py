"""The clip's stills: a WebP thumbnail (the frame a third of the way in) and a JPEG spritesheet.

They are made from the drawn frames as they pass (`Stills.offer`), so stills cost a handful of
small conversions instead of a second decode of the MP4. Both work from the yuv420p frame the
encoder gets: libwebp (through PyAV) encodes the thumbnail from those planes as they are, since
lossy WebP is BT.601 limited-range 4:2:0 like the clip, and each spritesheet tile is one swscale
shrink into a YUV sheet that is converted to RGB once, at the end.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter
from PIL import Image

from sora_mcp.engine.render.layers import SWS_THREADS, plane_bytes, planes_of
from sora_mcp.engine.render.pool import FRAMES

SPRITE_TILES = 16
SPRITE_COLUMNS = 4
THUMBNAIL_QUALITY = "80"
SPRITESHEET_QUALITY = 85


def tile_indexes(total: int) -> list[int]:
    """Up to 16 evenly spaced frame indexes, first and last included."""
    tiles = min(SPRITE_TILES, total)
    return sorted({round(k * (total - 1) / max(1, tiles - 1)) for k in range(tiles)})


def thumbnail_index(total: int) -> int:
    return total // 3


def write_webp(frame: av.VideoFrame, path: Path) -> None:
    """One yuv420p frame as a lossy WebP file (quality 80, libwebp's fastest method)."""
    codec = av.CodecContext.create("libwebp", "w")
    codec.width, codec.height, codec.pix_fmt = frame.width, frame.height, "yuv420p"
    codec.time_base = Fraction(1, 24)
    codec.options = {"quality": THUMBNAIL_QUALITY, "compression_level": "0"}
    packets = codec.encode(frame) + codec.encode(None)
    with open(path, "wb") as out:
        out.writelines(bytes(packet) for packet in packets)


class Stills:
    """Collects the stills while frames are drawn, so their cost overlaps with encoding.

    `offer(index, frame)` for every frame in order (only reads it): the thumbnail is written as
    soon as its frame arrives and each spritesheet tile is shrunk into the sheet on arrival;
    `finish()` writes the sheet. Tiles are a quarter of the frame each way, rounded down to
    even sizes.
    """

    def __init__(self, total: int, width: int, height: int, thumbnail: Path, spritesheet: Path) -> None:
        self.total, self.thumbnail, self.spritesheet = total, thumbnail, spritesheet
        self.tiles = {index: k for k, index in enumerate(tile_indexes(total))}
        self.cols = min(SPRITE_COLUMNS, len(self.tiles))
        rows = -(-len(self.tiles) // self.cols)
        self.tw, self.th = max(2, width // 8 * 2), max(2, height // 8 * 2)
        # the sheet is assembled in the clip's own YUV and converted to RGB once, at the end; with
        # 16 tiles it is the size of a frame, so it can be a pooled one (see `pool`)
        width, height = self.cols * self.tw, rows * self.th
        pooled = FRAMES.take(width, height)
        self.sheet = av.VideoFrame(width, height, "yuv420p") if pooled is None else pooled
        if len(self.tiles) < self.cols * rows:
            for plane, value in zip(planes_of(self.sheet), (16, 128, 128)):  # black where no tile
                plane[...] = value
        self.shrink = VideoReformatter()  # one for every tile: the same conversion each time

    def wants(self, index: int) -> bool:
        return index in self.tiles or index == thumbnail_index(self.total)

    def offer(self, index: int, frame: av.VideoFrame) -> None:
        if index == thumbnail_index(self.total):
            write_webp(frame, self.thumbnail)
        if index in self.tiles:
            k = self.tiles[index]
            r0, c0 = (k // self.cols) * self.th, (k % self.cols) * self.tw
            tile = self.shrink.reformat(
                frame,
                width=self.tw,
                height=self.th,
                format="yuv420p",
                interpolation="AREA",
                threads=SWS_THREADS,
            )
            for i, (dst, src) in enumerate(zip(planes_of(self.sheet), planes_of(tile))):
                s = 1 if i == 0 else 2
                dst[r0 // s : (r0 + self.th) // s, c0 // s : (c0 + self.tw) // s] = src

    def finish(self) -> None:
        # RGBX is a layout Pillow can wrap without copying, and its JPEG encoder reads it as RGB:
        # the same bytes as from an RGB array, without two more sheet-sized copies in fresh memory
        rgbx = self.sheet.reformat(format="rgb0", threads=SWS_THREADS)
        plane = rgbx.planes[0]
        image = Image.frombuffer(
            "RGBX", (rgbx.width, rgbx.height), plane_bytes(plane), "raw", "RGBX", plane.line_size, 1
        )
        image.save(self.spritesheet, "JPEG", quality=SPRITESHEET_QUALITY)
        FRAMES.give([self.sheet])

"""Hostile but valid images for the memory tests, written without holding them decoded.

`png16` writes a 16-bit PNG row by row through zlib (Pillow cannot write 16-bit RGB): a
6320x6320 one is ~300 KB on disk and ~240 MB of samples, the issue's decompression-cost bomb.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png16(path: Path, width: int, height: int, *, alpha: bool = False) -> Path:
    """A 16-bit RGB (or RGBA) PNG of a soft gradient band, written streamed."""
    channels = 4 if alpha else 3
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 6 if alpha else 2, 0, 0, 0)
    comp = zlib.compressobj(1)
    parts = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", ihdr)]
    idat = bytearray()
    row_tail = bytes(width * channels * 2)
    for y in range(height):
        shade = (y * 65535 // max(height - 1, 1)).to_bytes(2, "big")
        # Filter byte 0, then a first pixel carrying the row's shade; the rest zeros (compresses well).
        row = b"\x00" + shade * channels + row_tail[channels * 2 :]
        idat += comp.compress(row)
    idat += comp.flush()
    parts += [_chunk(b"IDAT", bytes(idat)), _chunk(b"IEND", b"")]
    path.write_bytes(b"".join(parts))
    return path

"""Hostile inputs for path arguments, made cheaply on disk: escapes, devices, bombs, disguises.

`make_hostile(inputs, outside)` returns (label, value) pairs; every one must be refused before
a byte is uploaded. `valid_png(path)` is the control that must go through.
"""

from __future__ import annotations

import base64
import os
import struct
import zipfile
import zlib
from pathlib import Path

from PIL import Image


def valid_png(path: Path, size: tuple[int, int] = (64, 36)) -> Path:
    Image.new("RGB", size, (200, 80, 40)).save(path, format="PNG")
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header claims width×height pixels (900 MP); the pixel data is a token stub.

    A reader that decodes before checking the header would try to allocate gigabytes.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def make_hostile(inputs: Path, outside: Path) -> list[tuple[str, str]]:
    """Build the hostile files (inside the allowed folder unless the point is being outside)."""
    inputs.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    secret_png = valid_png(outside / "private.png")  # a real image, but outside the roots
    (inputs / "link-out.png").symlink_to(secret_png)
    (inputs / "link-passwd.png").symlink_to("/etc/passwd")
    (inputs / "link-zero.png").symlink_to("/dev/zero")
    os.mkfifo(inputs / "fifo.png")
    (inputs / "folder.png").mkdir()
    with open(inputs / "sparse-2gb.png", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(2 * 1024**3)  # sparse: takes no disk space
    with zipfile.ZipFile(inputs / "zip.png", "w") as z:
        z.writestr("payload.txt", "not an image")
    (inputs / "bomb.png").write_bytes(bomb_png())
    (inputs / "text.png").write_text("just some text pretending to be an image\n")
    (inputs / "empty.png").write_bytes(b"")
    rel_escape = os.path.relpath(secret_png, Path.cwd())
    return [
        ("../ chain from the allowed folder", f"{inputs}/../outside/private.png"),
        ("../ chain relative to the working dir", rel_escape),
        ("deep ../ chain to /etc/passwd", f"{inputs}/" + "../" * 30 + "etc/passwd"),
        ("absolute path outside the roots", str(secret_png)),
        ("/etc/passwd", "/etc/passwd"),
        ("home ssh key", "~/.ssh/id_rsa"),
        ("symlink pointing out", str(inputs / "link-out.png")),
        ("symlink to /etc/passwd", str(inputs / "link-passwd.png")),
        ("/dev/zero", "/dev/zero"),
        ("symlink to /dev/zero", str(inputs / "link-zero.png")),
        ("a FIFO", str(inputs / "fifo.png")),
        ("a directory", str(inputs / "folder.png")),
        ("a 2 GB sparse file", str(inputs / "sparse-2gb.png")),
        ("a PNG that is really a ZIP", str(inputs / "zip.png")),
        ("a 30000x30000 PNG (decompression bomb)", str(inputs / "bomb.png")),
        ("the bomb as a data: URL", "data:image/png;base64," + base64.b64encode(bomb_png()).decode()),
        ("a text file renamed .png", str(inputs / "text.png")),
        ("an empty file", str(inputs / "empty.png")),
        ("a missing file", str(inputs / "missing.png")),
        ("file:// URL", f"file://{secret_png}"),
        ("plain http URL", "http://127.0.0.1:1/x.png"),
        ("NUL byte in the path", f"{inputs}/zip.png\x00.png"),
    ]

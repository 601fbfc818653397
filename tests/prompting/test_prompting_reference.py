"""Input references: confinement, file-type and size checks, bombs, fitting, and temp-file cleanup."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import time
import zipfile
import zlib
from pathlib import Path
from typing import Protocol

import anyio
import pytest
from PIL import Image

from sora_mcp.errors import InvalidInput
from sora_mcp.prompting import PreparedReference, prepare_reference


class Dirs(Protocol):  # the `dirs` fixture from conftest.py
    root: Path
    outside: Path
    tmp: Path


pytestmark = pytest.mark.anyio


def png_bytes(size: tuple[int, int] = (128, 72), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming huge dimensions with a tiny IDAT: costs nothing to make, a bomb to decode."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


async def prepare(value: str, d: Dirs, target: str = "128x72", **kw: object) -> PreparedReference:
    """Enter and leave the context; return what it yielded (checked while inside)."""
    async with prepare_reference(value, roots=[d.root], target_size=target, tmp_dir=d.tmp, **kw) as ref:  # type: ignore[arg-type]
        if ref.path is not None:
            assert ref.path.parent == d.tmp and ref.path.is_file()
            with Image.open(ref.path) as im:
                OUT_SIZE[ref.path.name] = im.size
        return ref


OUT_SIZE: dict[str, tuple[int, int]] = {}


def out_size(ref: PreparedReference) -> tuple[int, int]:
    assert ref.path is not None
    return OUT_SIZE[ref.path.name]


async def refused(value: str, d: Dirs, **kw: object) -> str:
    with pytest.raises(InvalidInput) as err:
        await prepare(value, d, **kw)
    return str(err.value)


# --- remote forms -------------------------------------------------------------------------


async def test_file_id_and_https_pass_through(dirs: Dirs) -> None:
    ref = await prepare("file-abc123", dirs)
    assert (ref.kind, ref.file_id, ref.path) == ("file_id", "file-abc123", None)
    ref = await prepare("https://example.com/a.png", dirs)
    assert (ref.kind, ref.image_url, ref.path) == ("image_url", "https://example.com/a.png", None)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://example.com/a.png", "https://"),
        ("ftp://example.com/a.png", "unsupported URL scheme"),
        ("file:///etc/passwd", "unsupported URL scheme"),
        ("https:///nohost.png", "not a valid URL"),
        ("", "empty"),
    ],
)
async def test_bad_urls_refused_with_fix(dirs: Dirs, value: str, problem: str) -> None:
    assert problem in await refused(value, dirs)


# --- data: URLs ---------------------------------------------------------------------------


async def test_data_url_is_decoded_verified_and_fitted(dirs: Dirs) -> None:
    raw = png_bytes((64, 64))
    ref = await prepare("data:image/png;base64," + base64.b64encode(raw).decode(), dirs)
    assert ref.kind == "file" and ref.fitted and ref.mime_type == "image/png"
    assert out_size(ref) == (128, 72)
    assert ref.sha256 == hashlib.sha256(raw).hexdigest() and ref.filename == "reference.png"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("data:image/png;base64,@@not-base64@@", "valid base64"),
        ("data:image/gif;base64,R0lGODlh", "image/gif"),
        ("data:text/plain;base64,aGVsbG8=", "base64 image data URL"),
        ("data:image/png;base64," + base64.b64encode(b"hello, I am text").decode(), "text"),
    ],
)
async def test_bad_data_urls_refused(dirs: Dirs, value: str, problem: str) -> None:
    assert problem in await refused(value, dirs)


async def test_oversized_data_url_refused_before_decoding(dirs: Dirs) -> None:
    value = "data:image/png;base64," + "A" * 4000
    assert "limit is" in await refused(value, dirs, max_bytes=1000)


# --- local files: the happy path and fitting -----------------------------------------------


async def test_right_size_file_is_copied_unchanged(dirs: Dirs) -> None:
    raw = png_bytes((128, 72))
    (dirs.root / "ok.png").write_bytes(raw)
    async with prepare_reference(
        str(dirs.root / "ok.png"), roots=[dirs.root], target_size="128x72", tmp_dir=dirs.tmp
    ) as ref:
        assert not ref.fitted and ref.path is not None and ref.path.read_bytes() == raw
        assert ref.sha256 == hashlib.sha256(raw).hexdigest() and ref.filename == "reference.png"
        assert str(dirs.root) not in (ref.filename or "")
    assert not ref.path.exists()


@pytest.mark.parametrize(("fmt", "target"), [("PNG", "128x72"), ("JPEG", "72x128"), ("WEBP", "100x100")])
async def test_fitting_produces_exact_target_size(dirs: Dirs, fmt: str, target: str) -> None:
    name = f"in.{fmt.lower()}"
    Image.new("RGB", (300, 170), (10, 120, 10)).save(dirs.root / name, format=fmt)
    ref = await prepare(str(dirs.root / name), dirs, target=target)
    w, h = (int(x) for x in target.split("x"))
    assert ref.fitted and out_size(ref) == (w, h)
    assert (ref.width, ref.height) == (300, 170) and ref.mime_type == f"image/{fmt.lower()}"


async def test_fit_is_a_centre_crop(dirs: Dirs) -> None:
    im = Image.new("RGB", (300, 100), (255, 0, 0))
    im.paste((0, 255, 0), (100, 0, 200, 100))  # green middle third
    im.paste((0, 0, 255), (200, 0, 300, 100))
    im.save(dirs.root / "stripes.png")
    async with prepare_reference(
        str(dirs.root / "stripes.png"), roots=[dirs.root], target_size="100x100", tmp_dir=dirs.tmp
    ) as ref:
        assert ref.path is not None
        with Image.open(ref.path) as out:
            rgb = out.convert("RGB")
            for xy in ((3, 3), (50, 50), (96, 96)):
                r, g, b = rgb.getpixel(xy)  # type: ignore[misc]
                assert g > 200 and r < 40 and b < 40


# --- local files: refusals ------------------------------------------------------------------


async def test_dotdot_chain_out_of_root_refused(dirs: Dirs, monkeypatch: pytest.MonkeyPatch) -> None:
    (dirs.outside / "secret.png").write_bytes(png_bytes())
    monkeypatch.chdir(dirs.root)
    msg = await refused("../outside/secret.png", dirs)
    assert "'../outside/secret.png' is outside" in msg and "SORA_MCP_ALLOWED_ROOTS" in msg
    assert str(dirs.outside) not in msg
    msg = await refused(f"{dirs.root}/sub/../../outside/secret.png", dirs)
    assert "is outside" in msg and str(dirs.outside / "secret.png") not in msg


async def test_absolute_path_outside_refused_even_when_missing(dirs: Dirs) -> None:
    assert "is outside" in await refused("/etc/passwd", dirs)
    assert "is outside" in await refused("/definitely/not/here.png", dirs)  # no existence probing
    assert "does not exist" in await refused(str(dirs.root / "missing.png"), dirs)


async def test_symlink_pointing_out_refused_inside_allowed(dirs: Dirs) -> None:
    (dirs.outside / "secret.png").write_bytes(png_bytes())
    (dirs.root / "link.png").symlink_to(dirs.outside / "secret.png")
    msg = await refused(str(dirs.root / "link.png"), dirs)
    assert "is outside" in msg and str(dirs.outside) not in msg
    (dirs.root / "real.png").write_bytes(png_bytes())
    (dirs.root / "good-link.png").symlink_to(dirs.root / "real.png")
    assert (await prepare(str(dirs.root / "good-link.png"), dirs)).kind == "file"


async def test_device_refused_without_reading(dirs: Dirs) -> None:
    with anyio.fail_after(5):
        with pytest.raises(InvalidInput, match="device, pipe or socket"):
            async with prepare_reference(
                "/dev/zero", roots=[Path("/dev")], target_size="128x72", tmp_dir=dirs.tmp
            ):
                pass


async def test_fifo_refused_without_hanging(dirs: Dirs) -> None:
    os.mkfifo(dirs.root / "pipe.png")
    with anyio.fail_after(5):
        assert "device, pipe or socket" in await refused(str(dirs.root / "pipe.png"), dirs)


async def test_directory_refused(dirs: Dirs) -> None:
    (dirs.root / "folder.png").mkdir()
    assert "is a directory" in await refused(str(dirs.root / "folder.png"), dirs)


async def test_2gb_sparse_file_refused_fast(dirs: Dirs) -> None:
    (dirs.root / "huge.png").touch()
    os.truncate(dirs.root / "huge.png", 2 * 1024**3)  # sparse: no disk space used
    started = time.perf_counter()
    msg = await refused(str(dirs.root / "huge.png"), dirs)
    assert "2048.0 MB; the limit is 20 MB" in msg
    assert time.perf_counter() - started < 1.0


async def test_zip_renamed_png_refused(dirs: Dirs) -> None:
    with zipfile.ZipFile(dirs.root / "archive.png", "w") as zf:
        zf.writestr("a.txt", "hello")
    assert "ZIP archive" in await refused(str(dirs.root / "archive.png"), dirs)


async def test_text_renamed_png_refused(dirs: Dirs) -> None:
    (dirs.root / "notes.png").write_text("just some notes\n")
    assert "look like text" in await refused(str(dirs.root / "notes.png"), dirs)


async def test_empty_and_damaged_files_refused(dirs: Dirs) -> None:
    (dirs.root / "empty.png").write_bytes(b"")
    assert "is empty" in await refused(str(dirs.root / "empty.png"), dirs)
    (dirs.root / "cut.png").write_bytes(png_header_only(100, 100))
    assert "damaged" in await refused(str(dirs.root / "cut.png"), dirs)


@pytest.mark.parametrize("side", [30000, 7000])  # above Pillow's own limit, and between its limit and ours
async def test_png_bomb_refused_quickly(dirs: Dirs, side: int) -> None:
    (dirs.root / "bomb.png").write_bytes(png_header_only(side, side))
    started = time.perf_counter()
    assert "decompression bomb" in await refused(str(dirs.root / "bomb.png"), dirs)
    assert time.perf_counter() - started < 1.0


async def test_max_bytes_is_honoured(dirs: Dirs) -> None:
    (dirs.root / "big.png").write_bytes(png_bytes((400, 400)) + b"\0" * 5000)
    assert "limit is" in await refused(str(dirs.root / "big.png"), dirs, max_bytes=2000)


# --- cleanup whatever happens -----------------------------------------------------------------


async def test_temp_file_removed_when_body_raises(dirs: Dirs) -> None:
    (dirs.root / "a.png").write_bytes(png_bytes((64, 64)))
    seen: list[Path] = []
    with pytest.raises(RuntimeError, match="boom"):
        async with prepare_reference(
            str(dirs.root / "a.png"), roots=[dirs.root], target_size="128x72", tmp_dir=dirs.tmp
        ) as ref:
            assert ref.path is not None and ref.path.exists()
            seen.append(ref.path)
            raise RuntimeError("boom")
    assert seen and not seen[0].exists()


async def test_temp_file_removed_when_task_is_cancelled(dirs: Dirs) -> None:
    (dirs.root / "a.png").write_bytes(png_bytes((64, 64)))
    inside = anyio.Event()
    seen: list[Path] = []

    async def hold() -> None:
        async with prepare_reference(
            str(dirs.root / "a.png"), roots=[dirs.root], target_size="128x72", tmp_dir=dirs.tmp
        ) as ref:
            assert ref.path is not None
            seen.append(ref.path)
            inside.set()
            await anyio.sleep_forever()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(hold)
            await inside.wait()
            assert seen[0].exists()
            tg.cancel_scope.cancel()
    assert not seen[0].exists()


async def test_cancelled_while_preparing_leaves_nothing(dirs: Dirs) -> None:
    Image.new("RGB", (2000, 2000), (1, 2, 3)).save(dirs.root / "big.png")
    for delay in (0, 0.001, 0.005, 0.02):
        with anyio.move_on_after(delay):
            async with prepare_reference(
                str(dirs.root / "big.png"), roots=[dirs.root], target_size="128x72", tmp_dir=dirs.tmp
            ):
                await anyio.sleep_forever()
        assert list(dirs.tmp.iterdir()) == []

"""Asset paths for hostile ids, temp files, and thumbnails/spritesheets derived from a real MP4."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from sora_mcp.errors import BackendError, InvalidInput
from sora_mcp.library import (
    asset_path,
    derive_spritesheet,
    derive_thumbnail,
    safe_dirname,
    sweep_temp,
    temp_path,
)
from sora_mcp.library.tempfiles import PREFIX, atomic_replace, create_temp

LIB = Path("/srv/data/library")


@pytest.mark.parametrize(
    "video_id",
    [
        "..",
        "../../etc/passwd",
        "/abs/olute",
        "a/../../b",
        "video_\x00nul",
        "C:\\win\\x",
        ".hidden",
        "~",
        "a" * 300,
        "bGl0ZWxsbTpjdXN0b21fbGxtX3Byb3ZpZGVyOm9wZW5haTttb2RlbF9pZDp2aWRlb18x+/=" * 3,
    ],
)
def test_hostile_ids_stay_inside_the_library(video_id: str) -> None:
    path = asset_path(LIB, video_id, "video")
    assert path.parent.parent == LIB and path.name == "video.mp4"
    assert os.path.normpath(path) == str(path)
    assert len(path.parent.name) <= 65 and not path.parent.name.startswith(".")


def test_plain_ids_are_kept_and_lookalikes_do_not_collide() -> None:
    assert (
        asset_path(LIB, "video_68d7512d07848190", "thumbnail")
        == LIB / "video_68d7512d07848190" / "thumbnail.webp"
    )
    names = {safe_dirname(i) for i in ["a/b", "a+b", "a_b", "a=b", "a" * 80, "a" * 81]}
    assert len(names) == 6
    # A plain id that looks like a sanitised one cannot take its place.
    assert safe_dirname(safe_dirname("a/b").replace(".", "_")) != safe_dirname("a/b")
    with pytest.raises(InvalidInput):
        asset_path(LIB, "", "video")
    with pytest.raises(InvalidInput):
        asset_path(LIB, "ok", "../../x")


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=300), st.text(min_size=1, max_size=300))
def test_any_id_maps_inside_and_distinct_ids_stay_distinct(a: str, b: str) -> None:
    pa, pb = asset_path(LIB, a, "video"), asset_path(LIB, b, "video")
    assert pa.parent.parent == LIB
    if a != b:
        assert pa != pb


def test_temp_path_is_removed_whatever_happens(data_dir: Path) -> None:
    tmp = data_dir / "tmp"
    with temp_path(tmp, ".png") as p:
        p.write_bytes(b"x")
        assert p.name.startswith(PREFIX) and p.suffix == ".png"
    assert not p.exists()
    with pytest.raises(RuntimeError), temp_path(tmp) as q:
        raise RuntimeError("boom")
    assert not q.exists()


def test_sweep_removes_only_stale_files_of_dead_processes(data_dir: Path) -> None:
    tmp = data_dir / "tmp"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp / f"{PREFIX}{dead.pid}-abc.mp4"
    stale.write_bytes(b"partial")
    fd, live = create_temp(tmp, ".mp4")  # ours: this process is alive, an in-flight download
    os.close(fd)
    foreign = tmp / "not-ours.txt"
    foreign.write_text("keep")
    recent_dead = tmp / f"{PREFIX}{dead.pid}-new.mp4"
    recent_dead.write_bytes(b"")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert sweep_temp(tmp, max_age_s=600) == 1
    assert not stale.exists() and live.exists() and foreign.exists() and recent_dead.exists()
    assert sweep_temp(tmp) == 1  # start-up default: every stale file, whatever its age
    assert not recent_dead.exists() and live.exists()
    live.unlink()
    foreign.unlink()
    assert sweep_temp(data_dir / "missing") == 0


def test_atomic_replace_overwrites_in_one_step(data_dir: Path) -> None:
    dest = data_dir / "library" / "v" / "video.mp4"
    with temp_path(data_dir / "tmp") as src:
        src.write_bytes(b"new")
        atomic_replace(src, dest)
        assert not src.exists()
    assert dest.read_bytes() == b"new"


def _encode_mp4(path: Path, frames: int = 24, fps: int = 24) -> None:
    """64x64 clip whose frame i is a flat grey of level i*10, so each tile's source frame is knowable."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 10, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


@pytest.fixture
def mp4(tmp_path: Path) -> Path:
    path = tmp_path / "clip.mp4"
    _encode_mp4(path)
    return path


def test_derive_thumbnail_is_a_webp_of_the_frame_a_third_in(mp4: Path, data_dir: Path) -> None:
    dest = data_dir / "library" / "v" / "thumbnail.webp"
    result = derive_thumbnail(mp4, dest, tmp_dir=data_dir / "tmp")
    with Image.open(dest) as im:
        assert im.format == "WEBP" and im.size == (64, 64)
        level = np.asarray(im.convert("L")).mean()
    assert abs(level - 80) < 12, level  # frame 8 of 24 has grey level 80
    assert result.size == dest.stat().st_size and len(result.sha256) == 64


def test_derive_spritesheet_is_a_jpeg_grid_in_time_order(mp4: Path, data_dir: Path) -> None:
    dest = data_dir / "library" / "v" / "spritesheet.jpg"
    derive_spritesheet(mp4, dest, tiles=16, tmp_dir=data_dir / "tmp", tile_width=32)
    with Image.open(dest) as im:
        assert im.format == "JPEG" and im.size == (4 * 32, 4 * 32)
        grey = np.asarray(im.convert("L"), dtype=float)
    levels = [
        grey[r * 32 + 8 : r * 32 + 24, c * 32 + 8 : c * 32 + 24].mean() for r in range(4) for c in range(4)
    ]
    assert levels == sorted(levels) and levels[-1] - levels[0] > 150  # spread across the clip, in order


def test_derive_from_a_broken_file_says_what_to_do(data_dir: Path) -> None:
    bad = data_dir / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 50)
    with pytest.raises(BackendError, match="could not be") as info:
        derive_thumbnail(bad, data_dir / "library" / "v" / "thumbnail.webp", tmp_dir=data_dir / "tmp")
    assert info.value.fix and str(data_dir) not in str(info.value)
    assert not (data_dir / "library" / "v" / "thumbnail.webp").exists()

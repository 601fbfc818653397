"""Hostile path arguments: every one refused before a byte is uploaded; nothing written outside the data dir."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.hardening.runs.common import REPO, stack, text_of, top_level, tree
from tests.hardening.runs.hostile_files import make_hostile, valid_png
from tests.hardening.runs.paths_run import refuse_all

pytestmark = pytest.mark.anyio
# Names our code gives the files it writes; a new one at the repo or /tmp top level is a stray write.
OUR_NAMES = ("reference-", ".part", "ledger", "sqlite", ".png", ".mp4", ".webp", ".jpg", "sora")


async def test_hostile_paths_refused_before_upload(tmp_path: Path) -> None:
    cases = make_hostile(tmp_path / "inputs", tmp_path / "outside")
    before = (
        tree(tmp_path, exclude=[tmp_path / "data", tmp_path / "engine"]),
        top_level(REPO),
        top_level(Path(tempfile.gettempdir())),
    )
    async with stack(tmp_path) as s:
        tries, problems = await refuse_all(s, cases)
        assert problems == [], "\n".join(problems)
        assert tries >= len(cases)
        assert s.engine.stats.count("POST", "/v1/videos*") == 0, "a hostile file reached the backend"
        # Control: a real image in the allowed folder goes through, so the refusals above were not blanket.
        good = valid_png(tmp_path / "inputs" / "good.png")
        ok = await s.client.call_tool("create_video", {"prompt": "A calm lake", "input_reference": str(good)})
        assert not ok.is_error, text_of(ok)
        assert s.engine.stats.count("POST", "/v1/videos") == 1
        assert list(s.settings.tmp_dir.iterdir()) == []
    after = (
        tree(tmp_path, exclude=[tmp_path / "data", tmp_path / "engine"]),
        top_level(REPO),
        top_level(Path(tempfile.gettempdir())),
    )
    assert after[0] - before[0] == {str(good)}, "written outside the data directory"
    for was, now in zip(before[1:], after[1:], strict=True):
        strays = [n for n in now - was if any(m in n for m in OUR_NAMES)]
        assert strays == [], f"stray files: {strays}"

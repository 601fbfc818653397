"""Hostile path arguments: every one refused before a byte is uploaded; nothing written outside the data dir."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.hardening.common import REPO, input_forms, leaks, stack, text_of, top_level, tree
from tests.hardening.hostile_files import make_hostile, valid_png

pytestmark = pytest.mark.anyio
# Names our code gives the files it writes; a new one at the repo or /tmp top level is a stray write.
# Only an image argument must refuse these: for a text-file argument (create_batch's jsonl_path) a
# text file inside the allowed folders is legitimate input (each line becomes a prompt), so it is
# not tried there.
IMAGE_ONLY = {"a text file renamed .png", "an empty file"}
OUR_NAMES = ("reference-", ".part", "ledger", "sqlite", ".png", ".mp4", ".webp", ".jpg", "sora")


def path_arguments(tools: list[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(tool, argument, base args) for every argument that takes a file path (create_batch's too)."""
    out = []
    for tool in tools:
        props = tool.input_schema.get("properties", {})
        for name in props:
            if name == "input_reference" or "path" in name:
                base = {k: "A calm lake at dawn" for k in tool.input_schema.get("required", []) if k != name}
                if "size" in props:
                    base["size"] = "1280x720"
                out.append((tool.name, name, base))
    return out


async def refuse_all(s: Any, cases: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """Try every hostile value in every path argument; returns (tries, problems)."""
    problems: list[str] = []
    tries = 0
    for tool, arg, base in path_arguments((await s.client.list_tools()).tools):
        for label, value in cases:
            if arg != "input_reference" and label in IMAGE_ONLY:
                continue
            tries += 1
            with anyio.fail_after(30):
                result = await s.client.call_tool(tool, {**base, arg: value})
            text = text_of(result)
            if not result.is_error:
                problems.append(f"{tool}.{arg} accepted {label}")
            elif "Error executing tool" in text and ":" not in text:
                problems.append(f"{tool}.{arg} masked error for {label}")
            problems += [
                f"{tool}.{arg} {label}: {x}"
                for x in leaks(
                    text, data_dir=s.settings.data_dir, echoed=input_forms(value), shared=s.settings.roots()
                )
            ]
    return tries, problems


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

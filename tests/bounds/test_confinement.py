"""One-step confinement: a folder swapped for a symlink to outside, while creates run, uploads nothing
from outside (input references), and a batch file behind such a swap is never read.

The race is real: a thread flips `inputs/sub` between a folder and a symlink to `outside/sub` as
fast as it can while 600 creates go through the official MCP Client to a backend on 127.0.0.1
that records every upload. Before the fix, 12 of 600 uploads came from outside.
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import anyio
import pytest
from PIL import Image

from tests.bounds.conftest import make_settings, mcp, text_of
from tests.bounds.hostile import Hostile

pytestmark = pytest.mark.anyio
CREATES = 600
# What a create may honestly answer mid-swap: resolved outside, swapped during the walk, or
# caught in the instant the name is missing.
REFUSALS = (
    "outside the folders",
    "changed while it was being opened",
    "does not exist",
    "could not be resolved",
)


def png(color: tuple[int, int, int]) -> bytes:
    # Exactly the target size, so the upload carries these very bytes (no re-encoding).
    buf = io.BytesIO()
    Image.new("RGB", (1280, 720), color).save(buf, format="PNG")
    return buf.getvalue()


class Swapper(threading.Thread):
    """Flips `link` between a real folder and a symlink to `target` until stopped."""

    def __init__(self, link: Path, real: Path, target: Path) -> None:
        super().__init__(daemon=True)
        self.link, self.real, self.target = link, real, target
        self.stop = threading.Event()
        self.flips = 0

    def run(self) -> None:
        aside = self.link.with_name("sub-aside")
        while not self.stop.is_set():
            os.rename(self.link, aside)  # the real folder steps aside...
            os.symlink(self.target, self.link)  # ...and a link to outside takes its name
            time.sleep(0.0002)  # each state lasts a moment, so opens land in both and in the flips
            os.unlink(self.link)
            os.rename(aside, self.link)
            time.sleep(0.0002)
            self.flips += 1


async def test_swap_race_uploads_nothing_from_outside(tmp_path: Path, backend: Hostile) -> None:
    inside_png, outside_png = png((10, 200, 10)), png((200, 10, 10))
    settings = make_settings(tmp_path, backend.base_url)
    sub = tmp_path / "inputs" / "sub"
    sub.mkdir(parents=True)
    (sub / "ref.png").write_bytes(inside_png)
    outside = tmp_path / "outside" / "sub"
    outside.mkdir(parents=True)
    (outside / "ref.png").write_bytes(outside_png)
    swapper = Swapper(sub, sub, outside)
    accepted = refused = moved = 0
    other: list[str] = []
    async with mcp(settings) as client:

        async def one() -> None:
            nonlocal accepted, refused, moved
            result = await client.call_tool(
                "create_video", {"prompt": "A calm lake", "input_reference": str(sub / "ref.png")}
            )
            if not result.is_error:
                accepted += 1
            elif any(why in text_of(result) for why in REFUSALS):
                refused += 1
                moved += REFUSALS[1] in text_of(result)
            else:
                other.append(text_of(result))

        swapper.start()
        try:
            with anyio.fail_after(600):  # bounded: 600 creates take well under a minute unloaded
                for _ in range(CREATES // 10):
                    async with anyio.create_task_group() as tg:
                        for _ in range(10):
                            tg.start_soon(one)
        finally:
            swapper.stop.set()
            swapper.join(10)
    uploads = [s.body for s in backend.seen if s.method == "POST" and s.path == "/v1/videos"]
    from_outside = sum(outside_png in body for body in uploads)
    from_inside = sum(inside_png in body for body in uploads)
    print(
        f"\nswap race: {CREATES} creates, {swapper.flips} swaps, {accepted} uploaded from inside, "
        f"{refused} refused ({moved} as swapped mid-open), {from_outside} from outside"
    )
    assert other == [], other[:3]
    assert from_outside == 0
    assert accepted + refused == CREATES
    assert from_inside == accepted and accepted > 0  # the race let real work through too
    assert swapper.flips > 100


async def test_jsonl_behind_a_swapped_folder_is_never_read(tmp_path: Path, backend: Hostile) -> None:
    settings = make_settings(tmp_path, backend.base_url)
    sub = tmp_path / "inputs" / "sub"
    sub.mkdir(parents=True)
    (sub / "jobs.jsonl").write_text('{"prompt": "inside job"}\n')
    outside = tmp_path / "outside" / "sub"
    outside.mkdir(parents=True)
    (outside / "jobs.jsonl").write_text('{"prompt": "OUTSIDE job"}\n')
    swapper = Swapper(sub, sub, outside)
    async with mcp(settings) as client:
        swapper.start()
        try:
            with anyio.fail_after(300):
                for _ in range(150):
                    await client.call_tool("create_batch", {"jsonl_path": str(sub / "jobs.jsonl")})
        finally:
            swapper.stop.set()
            swapper.join(10)
    prompts = b"".join(s.body for s in backend.seen if s.method == "POST")
    assert b"OUTSIDE job" not in prompts
    assert b"inside job" in prompts


def test_a_swap_after_resolving_is_caught_by_the_walk(tmp_path: Path) -> None:
    """The window itself, made deterministic: resolve, swap, then open: the walk refuses."""
    from sora_mcp.prompting.confine import Moved, open_confined, resolve_inside

    root = tmp_path / "inputs"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ref.png").write_bytes(b"inside")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "ref.png").write_bytes(b"outside")
    found_root, resolved = resolve_inside(str(root / "sub" / "ref.png"), [root])
    os.rename(root / "sub", root / "sub-aside")
    os.symlink(tmp_path / "outside", root / "sub")
    with pytest.raises(Moved):
        open_confined(found_root, resolved)
    # The last component swapped for a link is refused the same way.
    os.unlink(root / "sub")
    os.rename(root / "sub-aside", root / "sub")
    os.unlink(root / "sub" / "ref.png")
    os.symlink(tmp_path / "outside" / "ref.png", root / "sub" / "ref.png")
    with pytest.raises(Moved):
        open_confined(found_root, resolved)

"""The spritesheet grid the player is told: the engine's and sora-mcp's own derived sheets, and
other layouts a backend might send."""

from __future__ import annotations

import pytest

from sora_mcp.service.media import sprite_grid


@pytest.mark.parametrize(
    ("sheet", "clip", "grid"),
    [
        ((1280, 720), (1280, 720), (4, 4)),  # embedded engine: 16 quarter-size tiles
        ((720, 1280), (720, 1280), (4, 4)),  # portrait
        ((640, 360), (1280, 720), (4, 4)),  # derived locally: 16 tiles 160 wide
        ((640, 1136), (720, 1280), (4, 4)),  # derived, portrait (160x284 tiles)
        ((2560, 90), (1280, 720), (16, 1)),  # one strip
        ((320, 2880), (1280, 720), (1, 16)),  # one column
        ((0, 0), (1280, 720), (1, 1)),  # nonsense: one tile, never a crash
    ],
)
def test_sprite_grid(sheet: tuple[int, int], clip: tuple[int, int], grid: tuple[int, int]) -> None:
    assert sprite_grid(*sheet, *clip) == grid

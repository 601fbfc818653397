"""Text cards: put together from cached glyphs, they must be the pixels Pillow itself draws."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from sora_mcp.engine.render.layers import bt601, shade
from sora_mcp.engine.render.text import _FONT_LOCK, _set, _wrap, text_panel

TEXTS = [
    "A red fox trots through a snowy birch forest at dawn, pausing to look back",
    "“Where did it go?” she whispers — ÅÉÎ fi ffi 0–1s · gjpqy",
]


@pytest.mark.parametrize("size", [11, 14, 20, 24, 34, 40])
@pytest.mark.parametrize("text", TEXTS)
def test_a_line_is_pillows_own_line(size: int, text: str) -> None:
    font = ImageFont.load_default(size=size)
    width, height = int(font.getlength(text)) + 40, 3 * size
    reference = Image.new("L", (width, height), 0)
    ImageDraw.Draw(reference).text((7, 5), text, font=font, fill=255)
    coverage = np.zeros((height, width), np.uint8)
    with _FONT_LOCK:
        _set(coverage, size, text, 7, 5)
    assert np.array_equal(coverage, np.asarray(reference))


def _pillow_card(text: str, max_width: int, size: int, fg, bg, max_lines: int, label: str, shape):
    """The card as Pillow draws it in RGB, converted to YUV by the matrix with 2x2-averaged chroma."""
    pad, line_h = max(6, size // 2), int(size * 1.25)
    label_h = int(size * 0.8) if label else 0
    image = Image.new("RGB", shape, bg)
    draw = ImageDraw.Draw(image)
    if label:
        draw.text(
            (pad, pad), label, font=ImageFont.load_default(size=max(8, int(size * 0.55))), fill=shade(fg, 0.8)
        )
    with _FONT_LOCK:
        lines = _wrap(text, size, max_width - 2 * pad, max_lines)
    for i, line in enumerate(lines):
        draw.text((pad, pad + label_h + i * line_h), line, font=ImageFont.load_default(size=size), fill=fg)
    yuv = bt601(np.asarray(image))
    chroma = (yuv[0::2, 0::2] + yuv[1::2, 0::2] + yuv[0::2, 1::2] + yuv[1::2, 1::2])[..., 1:] / 4
    return tuple(
        np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (yuv[..., 0], chroma[..., 0], chroma[..., 1])
    )


@pytest.mark.parametrize(
    ("text", "max_width", "size", "max_lines", "label"),
    [
        (TEXTS[0], 1024, 34, 3, "PREVIEW · SHOT"),
        (TEXTS[1], 576, 20, 2, "1–3s"),
        ("local preview", 1280, 14, 1, ""),
        (TEXTS[0] + " " + TEXTS[0], 400, 24, 2, ""),
    ],
)
def test_a_card_matches_the_card_pillow_draws(
    text: str, max_width: int, size: int, max_lines: int, label: str
) -> None:
    fg, bg = (250, 236, 200), (18, 30, 44)
    card = text_panel(text, max_width, size, fg, bg, max_lines=max_lines, label=label)
    width, height = card.size
    assert width <= max_width and width % 2 == 0 and height % 2 == 0
    reference = _pillow_card(text, max_width, size, fg, bg, max_lines, label, (width, height))
    for plane, expected in zip(card.planes, reference):
        assert plane.shape == expected.shape
        # rounding only: YUV worked out from coverage, not from a rounded RGB picture
        assert int(np.abs(plane.astype(np.int16) - expected.astype(np.int16)).max()) <= 1


def test_long_text_is_cut_to_its_lines_with_an_ellipsis() -> None:
    with _FONT_LOCK:
        lines = _wrap(TEXTS[0] * 3, 20, 300, 2)
    assert len(lines) == 2 and lines[-1].endswith(" …")


def test_cards_drawn_at_once_on_many_threads_are_the_same() -> None:
    args = (TEXTS[1], 576, 22, (255, 255, 255), (0, 0, 0))
    expected = text_panel(*args, max_lines=2, label="0–1s").planes
    results: list = []

    def draw() -> None:
        for _ in range(20):
            results.append(text_panel(*args, max_lines=2, label="0–1s").planes)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 80
    assert all(all(np.array_equal(a, b) for a, b in zip(planes, expected)) for planes in results)


def test_a_long_label_does_not_widen_the_card_past_its_limit() -> None:
    card = text_panel("short", 300, 20, (255, 255, 255), (0, 0, 0), max_lines=2, label="LABEL " * 20)
    assert card.size[0] <= 300

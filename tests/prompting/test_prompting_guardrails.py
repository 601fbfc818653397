"""Guardrails: clear-cut denylist terms are refused naming the rule, however they are spelled."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from sora_mcp.errors import GuardrailViolation, InvalidInput
from sora_mcp.prompting import check_faces, check_prompt, content_text, faces_available


@pytest.mark.parametrize(
    ("prompt", "rule"),
    [
        ("Mickey Mouse waves at the camera", "no copyrighted characters"),
        ("a kid dressed as spider-man", "no copyrighted characters"),
        ("Pikachu runs through grass", "no copyrighted characters"),
        ("a band plays Bohemian Rhapsody", "no copyrighted music"),
        ("Taylor Swift on stage", "no real people"),
        ("Barack Obama gives a speech", "no real people"),
        ("a graphic decapitation scene", "under-18"),
        ("nsfw beach party", "under-18"),
    ],
)
def test_clear_cases_are_refused_naming_the_rule(prompt: str, rule: str) -> None:
    with pytest.raises(GuardrailViolation) as err:
        check_prompt(prompt)
    msg = str(err.value)
    assert rule in msg and "sora://guardrails" in msg
    assert isinstance(err.value, InvalidInput)  # front ends treat it as a refused argument


@pytest.mark.parametrize(
    "prompt",
    [
        "Mickey  Mouse",  # double space
        "MICKEY MOUSE",
        "ＭＩＣＫＥＹ ＭＯＵＳＥ",  # full-width letters
        "Mickey\u200b Mouse",  # zero-width space
        "mickey_mouse in a field",
        "#MickeyMouse",  # run together
        "Mickey\nMouse",
        "Mi\u0441key Mouse",  # Cyrillic 'с'
        "SPIDERMAN",
        "Spider‐Man",  # unicode hyphen
        "Beyoncé sings",  # accents folded: the list spells it 'Beyonce'
        "a wild Pokémon appears",
    ],
)
def test_unicode_and_spacing_tricks_do_not_slip_past(prompt: str) -> None:
    with pytest.raises(GuardrailViolation):
        check_prompt(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "A red kite over a windy beach at dusk",
        "a gorgeous sunset over Elsass vineyards",  # 'gore' and 'Elsa' only inside other words
        "a field mouse named Mickie",
        "a superb man in a batting cage",
        "the marionette theatre",
    ],
)
def test_ordinary_prompts_pass(prompt: str) -> None:
    check_prompt(prompt)


def test_extra_denylist_from_settings() -> None:
    with pytest.raises(GuardrailViolation) as err:
        check_prompt("Acme  ROCKET shoes on a runway", ["", "  ", "acme rocket"])
    assert "SORA_MCP_DENYLIST" in str(err.value) and "acme rocket" in str(err.value)
    check_prompt("a rocket launch", ["acme rocket"])


def test_guardrails_resource_states_the_rules() -> None:
    text = content_text("guardrails.md")
    for phrase in ("under-18", "copyrighted characters", "copyrighted music", "real people", "human faces"):
        assert phrase in text


def test_face_check_passes_a_faceless_image(tmp_path: Path) -> None:
    path = tmp_path / "sky.png"
    Image.new("RGB", (320, 180), (90, 160, 230)).save(path)
    assert isinstance(faces_available(), bool)
    check_faces(path)  # no face: no refusal, with or without OpenCV installed

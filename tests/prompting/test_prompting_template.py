"""The structured prompt template: order, only-given lines, no double wrapping, exact pass-through."""

from __future__ import annotations

import pytest

from sora_mcp.errors import InvalidInput
from sora_mcp.prompting import (
    PROMPT_ARGS,
    PROMPT_FILES,
    PROMPT_MAX,
    AugmentFields,
    augment,
    is_structured,
    prompt_placeholders,
    render_prompt,
)

ALL = AugmentFields(
    use_case="teaser",
    scene="a windy beach at dusk",
    subject="a red kite",
    action="the kite loops twice",
    camera="wide, slow pan left",
    lighting="golden hour",
    palette="red and teal",
    style="35mm film",
    timing="0-2s rise; 2-4s loop",
    audio="wind and gulls",
    text="FLY HIGH",
    dialogue="Child: Look!\nParent: Higher!",
    constraints="one shot",
    avoid="people",
)


def test_all_fields_in_template_order() -> None:
    assert augment("A kite over the sea", ALL) == (
        "Use case: teaser\n"
        "Primary request: A kite over the sea\n"
        "Scene/background: a windy beach at dusk\n"
        "Subject: a red kite\n"
        "Action: the kite loops twice\n"
        "Camera: wide, slow pan left\n"
        "Lighting/mood: golden hour\n"
        "Color palette: red and teal\n"
        "Style/format: 35mm film\n"
        "Timing/beats: 0-2s rise; 2-4s loop\n"
        "Audio: wind and gulls\n"
        'Text (verbatim): "FLY HIGH"\n'
        "Dialogue:\n"
        "Child: Look!\nParent: Higher!\n"
        "Constraints: one shot\n"
        "Avoid: people"
    )


def test_only_given_lines_and_blank_fields_ignored() -> None:
    fields = AugmentFields(camera="  close-up  ", lighting="   ", avoid="")
    assert augment("  a cat  ", fields) == "Primary request: a cat\nCamera: close-up"
    assert augment("a cat") == "Primary request: a cat"


def test_control_characters_removed_newlines_and_tabs_kept() -> None:
    assert augment("a\x00b\x1b[31mc\r\nd\te", None) == "Primary request: ab[31mc\nd\te"


def test_structured_prompt_is_not_wrapped_again() -> None:
    already = "Primary request: a cat on a roof\nCamera: wide"
    assert augment(already) == already
    two_labels = "Scene/background: a roof\nSubject: a cat"
    assert augment(two_labels) == two_labels
    assert is_structured(two_labels) and is_structured("primary request: x")
    assert not is_structured("Camera: wide shot of a cat")  # one label is just prose


def test_structured_prompt_gets_only_missing_fields_appended() -> None:
    already = "Primary request: a cat\nCamera: wide"
    out = augment(already, AugmentFields(camera="close-up", avoid="dogs", scene="a roof"))
    assert out == "Primary request: a cat\nCamera: wide\nScene/background: a roof\nAvoid: dogs"
    assert out.count("Camera:") == 1


def test_augment_false_sends_prompt_exactly() -> None:
    prompt = "  A cat\n\twalks — «slowly» 🐈  \n"
    assert augment(prompt, None, enabled=False) == prompt
    assert augment(prompt, AugmentFields(), enabled=False) == prompt


def test_augment_false_with_fields_is_refused_with_fix() -> None:
    with pytest.raises(InvalidInput) as err:
        augment("a cat", AugmentFields(camera="wide", audio="purr"), enabled=False)
    assert "camera, audio" in str(err.value) and "augment=true" in str(err.value)


@pytest.mark.parametrize("prompt", ["", "   \n\t", "\x00\x01"])
def test_empty_prompt_refused(prompt: str) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        augment(prompt, None)


def test_oversized_prompt_refused_with_limit() -> None:
    with pytest.raises(InvalidInput, match=str(PROMPT_MAX)):
        augment("x" * (PROMPT_MAX + 1), None, enabled=False)
    with pytest.raises(InvalidInput, match="Shorten"):
        augment("x" * (PROMPT_MAX - 10), AugmentFields(avoid="y" * 50))


def test_every_field_has_a_description_for_tool_docs() -> None:
    props = AugmentFields.model_json_schema()["properties"]
    assert len(props) == 14
    assert all(len(p.get("description", "")) > 10 for p in props.values())
    with pytest.raises(ValueError):
        AugmentFields(camera="x", lens="y")  # type: ignore[call-arg]


def test_prompt_arguments_match_their_templates() -> None:
    for name in PROMPT_FILES:
        assert set(prompt_placeholders(name)) == {a.name for a in PROMPT_ARGS[name]}


def test_rendered_prompts_are_structured_and_drop_empty_lines() -> None:
    text = render_prompt("cinematic_shot", {"subject": "A lighthouse {at} night", "scene": None})
    block = text.split("```")[1]
    assert "Primary request: A lighthouse {at} night" in block
    assert "Scene/background" not in block  # no value, no line
    assert "Camera: slow dolly-in" in block  # default used
    assert is_structured(block) and augment(block.strip()) == block.strip()
    remix = render_prompt("remix", {"video_id": "video_1", "change": "make it night"})
    assert 'video_id` "video_1"' in remix and "change only this: make it night" in remix
    assert "Also keep" not in remix
    ad = render_prompt("social_ad", {"product": "a steel bottle", "text": "Stay cold"})
    assert 'Text (verbatim): "Stay cold"' in ad and '"720x1280"' in ad


def test_render_prompt_refuses_missing_required_and_unknown() -> None:
    with pytest.raises(InvalidInput, match="change"):
        render_prompt("remix", {"video_id": "video_1"})
    with pytest.raises(InvalidInput, match="cinematic_shot"):
        render_prompt("nope", {})

"""Turn a plain request plus optional shot details into the structured prompt template.

The template (see `sora://prompt-template`) is one labelled line per detail, in a fixed order,
only for the details given, with `Primary request:` always present. Video models follow such
prompts more faithfully than free prose. This module also renders the three MCP prompts'
markdown templates, whose lines disappear when their placeholder is left empty.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from sora_mcp.errors import InvalidInput

PROMPT_MAX = 32000
"""OpenAI's published limit for `prompt` (maxLength in the Videos API spec)."""


class AugmentFields(BaseModel):
    """Optional shot details; each becomes one labelled line of the structured prompt."""

    model_config = ConfigDict(extra="forbid")

    use_case: str | None = Field(
        default=None, description="What the clip is for, e.g. 'landing-page hero loop' or 'storyboard test'."
    )
    scene: str | None = Field(
        default=None, description="Where it happens: setting, background, time of day, weather."
    )
    subject: str | None = Field(
        default=None,
        description="Who or what the shot is about, with the details that must stay recognisable.",
    )
    action: str | None = Field(default=None, description="What moves or happens during the clip, in order.")
    camera: str | None = Field(
        default=None, description="Shot size, lens and movement, e.g. 'wide 24mm, slow dolly-in, eye level'."
    )
    lighting: str | None = Field(
        default=None, description="Lighting and mood, e.g. 'golden hour backlight, soft haze, calm'."
    )
    palette: str | None = Field(
        default=None, description="Main colours, e.g. 'teal and amber, muted greens'."
    )
    style: str | None = Field(
        default=None,
        description="Look and format, e.g. '35mm film, shallow depth of field' or '2D cel animation'.",
    )
    timing: str | None = Field(
        default=None, description="Beats with times, e.g. '0-2s establish; 2-4s reveal product'."
    )
    audio: str | None = Field(
        default=None, description="Sound: ambience, effects, music mood (no copyrighted songs)."
    )
    text: str | None = Field(
        default=None, description="On-screen text to render exactly as written (keep it short)."
    )
    dialogue: str | None = Field(
        default=None, description="Spoken lines, one per line, e.g. 'Narrator: Every morning starts here.'"
    )
    constraints: str | None = Field(
        default=None, description="Things that must hold, e.g. 'logo stays bottom-right; no cuts'."
    )
    avoid: str | None = Field(
        default=None, description="Things to keep out, e.g. 'text artefacts, extra limbs'."
    )


# (field name, label) in template order; `Primary request` is inserted after `use_case`.
_LABELS: tuple[tuple[str, str], ...] = (
    ("use_case", "Use case"),
    ("scene", "Scene/background"),
    ("subject", "Subject"),
    ("action", "Action"),
    ("camera", "Camera"),
    ("lighting", "Lighting/mood"),
    ("palette", "Color palette"),
    ("style", "Style/format"),
    ("timing", "Timing/beats"),
    ("audio", "Audio"),
    ("text", "Text (verbatim)"),
    ("dialogue", "Dialogue"),
    ("constraints", "Constraints"),
    ("avoid", "Avoid"),
)
TEMPLATE_LABELS: tuple[str, ...] = ("Use case", "Primary request") + tuple(label for _, label in _LABELS[1:])

_LABEL_LINE = re.compile(
    r"^[ \t]*(" + "|".join(re.escape(label) for label in TEMPLATE_LABELS) + r")[ \t]*:",
    re.IGNORECASE | re.MULTILINE,
)
# C0/C1 controls and DEL, except tab and newline: invisible, never intended, and some backends choke on them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """Remove control characters other than newline and tab (a lone CR is dropped, so CRLF becomes LF)."""
    return _CONTROL.sub("", text)


def check_prompt_length(prompt: str, *, limit: int = PROMPT_MAX) -> None:
    """Refuse an empty prompt or one longer than `limit` characters."""
    if not prompt or not prompt.strip():
        raise InvalidInput(
            "The prompt is empty.",
            fix="Describe the shot in one or two sentences (subject, setting, action).",
        )
    if len(prompt) > limit:
        raise InvalidInput(
            f"The prompt is {len(prompt)} characters long; the limit is {limit}.",
            fix="Shorten it: keep one shot per prompt and move repeated details into fewer words.",
        )


def is_structured(prompt: str) -> bool:
    """True when the prompt already follows the template (has `Primary request:` or two template lines)."""
    labels = {m.group(1).casefold() for m in _LABEL_LINE.finditer(prompt)}
    return "primary request" in labels or len(labels) >= 2


def _given(fields: AugmentFields | None) -> dict[str, str]:
    if fields is None:
        return {}
    out: dict[str, str] = {}
    for name, _ in _LABELS:
        value = getattr(fields, name)
        if value is not None and value.strip():
            out[name] = strip_controls(value).strip()
    return out


def _line(name: str, label: str, value: str) -> str:
    if name == "text":
        return f'{label}: "{value}"'
    if name == "dialogue":
        return f"{label}:\n{value}"
    return f"{label}: {value}"


def augment(prompt: str, fields: AugmentFields | None = None, enabled: bool = True) -> str:
    """Return the exact prompt to send.

    - `enabled=False`: the prompt as written (only control characters removed). Giving shot
      details as well is refused, because they would be silently dropped.
    - A prompt that is already structured is not wrapped again; details whose label it does
      not contain yet are appended after it, in template order.
    - Otherwise: the template lines, in order, only for the details given.
    """
    prompt = strip_controls(prompt)
    check_prompt_length(prompt)
    given = _given(fields)
    if not enabled:
        if given:
            names = ", ".join(given)
            raise InvalidInput(
                f"Shot details ({names}) were given with augment=false, which sends the prompt exactly as written "
                "and would drop them.",
                fix="Set augment=true to use the details, or write them into the prompt yourself.",
            )
        return prompt
    if is_structured(prompt):
        present = {m.group(1).casefold() for m in _LABEL_LINE.finditer(prompt)}
        extra = [
            _line(n, lab, given[n]) for n, lab in _LABELS if n in given and lab.casefold() not in present
        ]
        result = "\n".join([prompt.rstrip(), *extra])
    else:
        lines: list[str] = []
        if "use_case" in given:
            lines.append(_line("use_case", "Use case", given["use_case"]))
        lines.append(f"Primary request: {prompt.strip()}")
        lines.extend(_line(n, lab, given[n]) for n, lab in _LABELS[1:] if n in given)
        result = "\n".join(lines)
    check_prompt_length(result)
    return result


# --- MCP prompt templates (markdown files in sora_mcp/content) -------------------------------

PROMPT_FILES: dict[str, str] = {
    "cinematic_shot": "prompt-cinematic-shot.md",
    "social_ad": "prompt-social-ad.md",
    "remix": "prompt-remix.md",
}


class PromptArg(BaseModel):
    """One argument of an MCP prompt (the front end declares these to clients)."""

    name: str
    description: str
    required: bool = False
    default: str | None = None


PROMPT_ARGS: dict[str, tuple[PromptArg, ...]] = {
    "cinematic_shot": (
        PromptArg(name="subject", required=True, description="What the shot shows, in one sentence."),
        PromptArg(name="scene", description="Setting, time of day, weather."),
        PromptArg(name="action", description="What happens during the shot."),
        PromptArg(
            name="camera", description="Shot size, lens, movement.", default="slow dolly-in, 35mm, eye level"
        ),
        PromptArg(name="lighting", description="Light and mood.", default="soft golden-hour light, calm"),
        PromptArg(
            name="style",
            description="Look and format.",
            default="cinematic, shallow depth of field, film grain",
        ),
        PromptArg(
            name="constraints", description="What must hold.", default="single continuous shot, no cuts"
        ),
        PromptArg(name="model", description="Model id.", default="sora-2"),
        PromptArg(name="size", description="WIDTHxHEIGHT.", default="1280x720"),
        PromptArg(name="seconds", description="Duration in seconds.", default="8"),
    ),
    "social_ad": (
        PromptArg(
            name="product", required=True, description="The product, described without brand names of others."
        ),
        PromptArg(
            name="audience", description="Who the ad is for.", default="busy people who value simple things"
        ),
        PromptArg(name="scene", description="Where the ad takes place."),
        PromptArg(name="palette", description="Main colours."),
        PromptArg(
            name="beats",
            description="The beats with times.",
            default="0-3s hook: the problem; 3-8s the product solves it; 8-12s product hero shot",
        ),
        PromptArg(
            name="audio",
            description="Sound and music mood.",
            default="upbeat original instrumental, light whooshes",
        ),
        PromptArg(name="text", description="On-screen text, verbatim (a few words)."),
        PromptArg(name="model", description="Model id.", default="sora-2"),
        PromptArg(name="size", description="WIDTHxHEIGHT.", default="720x1280"),
        PromptArg(name="seconds", description="Duration in seconds.", default="12"),
    ),
    "remix": (
        PromptArg(name="video_id", required=True, description="The completed video to remix."),
        PromptArg(name="change", required=True, description="The one thing to change, e.g. 'make it night'."),
        PromptArg(name="keep", description="Anything else that must stay, beyond the usual invariants."),
    ),
}


# What a remix keeps, each with words that mean the change touches it (then it is not kept).
_INVARIANTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("framing", ("framing", "frame", "crop", "close-up", "closeup", "wide shot", "composition", "angle")),
    ("camera movement", ("camera", "pan", "tilt", "dolly", "tracking", "zoom", "handheld", "static shot")),
    ("subject", ("subject", "person", "character", "replace", "swap", "outfit", "costume", "wearing")),
    ("action", ("action", "moves", "movement", "running", "walking", "jump", "dance", "gesture")),
    ("timing", ("timing", "speed", "fast", "slow", "pace", "tempo", "duration", "beat")),
    (
        "lighting",
        (
            "light",
            "lighting",
            "night",
            "dusk",
            "dawn",
            "sunset",
            "sunrise",
            "daytime",
            "dark",
            "bright",
            "shadow",
            "golden hour",
            "neon",
            "lamp",
            "moon",
        ),
    ),
    (
        "colour palette",
        (
            "colour",
            "color",
            "palette",
            "hue",
            "tint",
            "pastel",
            "monochrome",
            "black and white",
            "saturat",
            "grade",
            "grading",
            "sepia",
        ),
    ),
    (
        "style",
        (
            "style",
            "look",
            "anime",
            "cartoon",
            "animation",
            "film",
            "grain",
            "painterly",
            "watercolor",
            "watercolour",
            "realistic",
            "3d",
            "pixel",
            "claymation",
            "noir",
        ),
    ),
    ("audio", ("audio", "sound", "music", "voice", "dialogue", "silent", "ambience", "narration")),
)


def remix_invariants(change: str) -> str:
    """The remix's "keep everything else identical" list, without what `change` changes."""
    said = change.casefold()
    kept = [name for name, words in _INVARIANTS if not any(w in said for w in words)]
    if not kept:
        return "everything the change does not name"
    return ", ".join(kept[:-1]) + (" and " if len(kept) > 1 else "") + kept[-1]


# Placeholders filled from other arguments, not given by the caller.
_COMPUTED: dict[str, dict[str, Callable[[Mapping[str, str]], str]]] = {
    "remix": {"invariants": lambda values: remix_invariants(values.get("change", ""))},
}


@cache
def content_text(filename: str) -> str:
    """Read one of the model-facing files shipped in `sora_mcp/content`."""
    return resources.files("sora_mcp").joinpath("content", filename).read_text(encoding="utf-8")


def prompt_placeholders(name: str) -> list[str]:
    """The placeholders of an MCP prompt template, in order of first appearance."""
    seen: list[str] = []
    for _, field, _, _ in string.Formatter().parse(content_text(PROMPT_FILES[name])):
        if field and field not in seen and field not in _COMPUTED.get(name, {}):
            seen.append(field)
    return seen


def render_prompt(name: str, values: Mapping[str, object | None]) -> str:
    """Fill an MCP prompt template; a line whose placeholder is empty or missing is left out.

    Missing arguments take their `PROMPT_ARGS` default; a missing required one is refused.
    Values are cleaned of control characters and of braces-format surprises (they are
    inserted literally, never formatted again).
    """
    if name not in PROMPT_FILES:
        raise InvalidInput(f"Unknown prompt '{name}'.", fix=f"Use one of: {', '.join(PROMPT_FILES)}.")
    clean = {
        k: unicodedata.normalize("NFC", strip_controls(str(v))).strip()
        for k, v in values.items()
        if v is not None and str(v).strip()
    }
    for arg in PROMPT_ARGS[name]:
        if arg.name not in clean and arg.default is not None:
            clean[arg.name] = arg.default
        if arg.required and arg.name not in clean:
            raise InvalidInput(
                f"The {name} prompt needs '{arg.name}'.", fix=f"Pass {arg.name}: {arg.description}"
            )
    for key, compute in _COMPUTED.get(name, {}).items():
        clean[key] = compute(clean)
    out: list[str] = []
    for line in content_text(PROMPT_FILES[name]).splitlines():
        fields = [f for _, f, _, _ in string.Formatter().parse(line) if f]
        if any(f not in clean for f in fields):
            continue
        out.append(line.format_map(clean) if fields else line.replace("{{", "{").replace("}}", "}"))
    return "\n".join(out).strip() + "\n"

"""Read a (structured or plain) video prompt into the plan the preview renderer draws.

The prompt template writes one `Label: value` line per aspect (`Primary request:`, `Camera:`,
`Color palette:`, `Timing/beats:`, `Audio:`, a `Dialogue:` block ...). This module turns such
text into a `PromptPlan`: a title, a palette, a camera move, timed captions and the audio cues.
It never fails: anything it cannot read falls back to a sensible default, because a preview of
an odd prompt is more useful than a refusal.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

RGB = tuple[int, int, int]

# Names a prompt writer is likely to use; two-word names are matched before single words.
COLOURS: dict[str, RGB] = {
    "sky blue": (110, 180, 235),
    "navy blue": (20, 35, 90),
    "forest green": (34, 100, 50),
    "hot pink": (245, 80, 160),
    "neon green": (60, 255, 90),
    "golden": (235, 185, 60),
    "black": (15, 15, 18),
    "white": (240, 240, 236),
    "grey": (128, 128, 128),
    "gray": (128, 128, 128),
    "silver": (192, 192, 200),
    "red": (210, 40, 40),
    "crimson": (170, 20, 50),
    "orange": (240, 130, 30),
    "amber": (255, 175, 40),
    "gold": (220, 175, 55),
    "yellow": (245, 215, 50),
    "lime": (160, 220, 40),
    "green": (50, 160, 70),
    "emerald": (30, 140, 90),
    "teal": (20, 130, 130),
    "cyan": (40, 200, 220),
    "turquoise": (60, 200, 190),
    "blue": (40, 90, 200),
    "navy": (20, 35, 90),
    "indigo": (70, 40, 140),
    "purple": (120, 50, 160),
    "violet": (140, 90, 210),
    "magenta": (210, 40, 170),
    "pink": (240, 140, 180),
    "brown": (120, 75, 40),
    "beige": (220, 200, 160),
    "cream": (245, 235, 205),
    "ivory": (245, 240, 220),
    "tan": (200, 165, 115),
    "maroon": (110, 20, 35),
    "coral": (245, 120, 95),
    "peach": (250, 190, 150),
    "lavender": (190, 170, 230),
    "mint": (160, 230, 190),
    "olive": (120, 120, 40),
    "charcoal": (50, 52, 56),
    "rust": (170, 75, 35),
    "sepia": (150, 110, 70),
    "copper": (185, 110, 60),
}
_COLOUR_RE = re.compile(
    r"#[0-9a-fA-F]{6}\b|\b(" + "|".join(sorted(map(re.escape, COLOURS), key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)

# Curated fallbacks, picked by mood words or by a hash of the prompt, so colourless prompts
# still differ from one another (and a remix with a new prompt can change colour).
_PALETTES: dict[str, list[RGB]] = {
    "night": [(12, 18, 45), (40, 60, 130), (120, 150, 220), (230, 220, 160)],
    "warm": [(60, 25, 30), (200, 90, 40), (245, 170, 70), (255, 230, 180)],
    "forest": [(20, 40, 25), (50, 110, 60), (150, 190, 100), (235, 225, 190)],
    "ocean": [(10, 40, 70), (20, 110, 150), (90, 190, 210), (235, 245, 240)],
    "studio": [(30, 30, 36), (90, 95, 110), (200, 200, 205), (240, 120, 60)],
    "candy": [(60, 30, 80), (230, 90, 150), (250, 200, 90), (140, 220, 230)],
}
_MOOD_WORDS: dict[str, tuple[str, ...]] = {
    "night": ("night", "moon", "midnight", "noir", "dark", "neon", "space", "stars"),
    "warm": ("sunset", "sunrise", "dawn", "dusk", "golden hour", "fire", "desert", "warm"),
    "forest": ("forest", "jungle", "garden", "meadow", "grass", "trees"),
    "ocean": ("ocean", "sea", "beach", "underwater", "lake", "river", "rain"),
}

_LABELS: dict[str, str] = {
    "primary request": "primary",
    "primary": "primary",
    "request": "primary",
    "use case": "use_case",
    "scene/background": "scene",
    "scene": "scene",
    "background": "scene",
    "subject": "subject",
    "action": "action",
    "camera": "camera",
    "lighting/mood": "lighting",
    "lighting": "lighting",
    "mood": "lighting",
    "color palette": "palette",
    "colour palette": "palette",
    "palette": "palette",
    "style/format": "style",
    "style": "style",
    "format": "style",
    "timing/beats": "timing",
    "timing": "timing",
    "beats": "timing",
    "audio": "audio",
    "sound": "audio",
    "text (verbatim)": "text",
    "text": "text",
    "on-screen text": "text",
    "dialogue": "dialogue",
    "constraints": "constraints",
    "avoid": "avoid",
}
_LABEL_RE = re.compile(
    r"^\s*(?:[-*]\s*)?("
    + "|".join(sorted(map(re.escape, _LABELS), key=len, reverse=True))
    + r")\s*:\s*(.*)$",
    re.IGNORECASE,
)
_NO_AUDIO = {"", "none", "no audio", "silent", "silence", "n/a", "no", "mute", "muted"}

# Camera phrases in priority order: the first phrase found decides the move.
_CAMERA: list[tuple[str, tuple[str, ...]]] = [
    ("static", ("static", "locked off", "locked-off", "tripod", "still camera", "no camera move")),
    ("orbit", ("orbit", "arc", "circle around", "circling", "360")),
    (
        "push_in",
        ("push in", "push-in", "dolly in", "dolly-in", "zoom in", "zoom-in", "crash zoom", "move in"),
    ),
    ("pull_out", ("pull out", "pull-out", "pull back", "pull-back", "dolly out", "zoom out", "zoom-out")),
    ("pan_left", ("pan left", "pans left", "truck left", "tracking left", "track left")),
    ("pan_right", ("pan right", "pans right", "truck right", "tracking", "track right", "pan")),
    ("tilt_up", ("tilt up", "crane up", "pedestal up", "rise", "rising")),
    ("tilt_down", ("tilt down", "crane down", "pedestal down", "descend")),
    ("handheld", ("handheld", "hand-held", "shaky", "documentary", "vérité", "verite")),
]


@dataclass(frozen=True)
class Beat:
    """A caption shown from `start` to `end` seconds (relative to the rendered segment)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class PromptPlan:
    """What the renderer needs from a prompt; every field has a usable default."""

    title: str
    palette: list[RGB]
    camera: str
    beats: list[Beat]
    onscreen_text: str | None
    dialogue: list[str]
    audio: str | None
    has_audio: bool
    mood: str
    monochrome: bool
    fields: dict[str, str] = field(default_factory=dict)


def split_fields(prompt: str) -> dict[str, str]:
    """Map field name → text; lines before the first label (or a plain prompt) become `primary`."""
    fields: dict[str, list[str]] = {}
    current = "primary"
    for raw in prompt.splitlines():
        match = _LABEL_RE.match(raw)
        if match:
            current = _LABELS[match.group(1).lower()]
            fields.setdefault(current, [])
            raw = match.group(2)
        if raw.strip():
            fields.setdefault(current, []).append(raw.strip())
    return {name: "\n".join(lines) for name, lines in fields.items()}


def find_colours(text: str) -> list[RGB]:
    """Colour words and #rrggbb codes in order of appearance, without repeats."""
    found: list[RGB] = []
    for match in _COLOUR_RE.finditer(text):
        token = match.group(0)
        rgb = (
            (int(token[1:3], 16), int(token[3:5], 16), int(token[5:7], 16))
            if token.startswith("#")
            else COLOURS[token.lower()]
        )
        if rgb not in found:
            found.append(rgb)
    return found


def _mood(text: str) -> str:
    lowered = text.lower()
    for mood, words in _MOOD_WORDS.items():
        if any(re.search(r"\b" + re.escape(w) + r"\b", lowered) for w in words):
            return mood
    return ""


def _palette(fields: dict[str, str], mood: str) -> list[RGB]:
    avoid = set(find_colours(fields.get("avoid", "")))
    colours = [c for c in find_colours(fields.get("palette", "")) if c not in avoid]
    if not colours:
        body = "\n".join(v for k, v in fields.items() if k not in ("avoid", "constraints"))
        colours = [c for c in find_colours(body) if c not in avoid]
    base = _PALETTES[mood] if mood else _hash_palette("\n".join(fields.values()))
    for extra in base:  # pad to four so every layer has a colour
        if len(colours) >= 4:
            break
        if extra not in colours and extra not in avoid:
            colours.append(extra)
    return colours[:6]


def _hash_palette(text: str) -> list[RGB]:
    names = sorted(_PALETTES)
    digest = hashlib.sha256(text.encode()).digest()
    return _PALETTES[names[digest[0] % len(names)]]


def camera_move(text: str) -> str:
    """The move named by a `Camera:` line; `drift` (a slow diagonal) when none is named."""
    lowered = " ".join(text.lower().split())
    for move, phrases in _CAMERA:
        if any(re.search(r"(?<![a-z])" + re.escape(p) + r"(?![a-z])", lowered) for p in phrases):
            return move
    return "drift"


_TIMED = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)?\s*(?:(?:-|–|—|to)\s*(\d+(?:\.\d+)?)\s*(?:s|sec|secs|seconds)?)?"
    r"\s*[:)\-–—]\s*(.+)$",
    re.IGNORECASE,
)


def parse_beats(text: str, duration: float) -> list[Beat]:
    """Timed captions: `0-2s: X; 2-4s: Y`, `0s: X, 3s: Y`, or untimed beats spread evenly."""
    parts = [p.strip() for p in re.split(r"[;\n|]", text) if p.strip()]
    if len(parts) == 1:
        parts = [p.strip() for p in re.split(r",|\bthen\b|→|->", parts[0]) if p.strip()]
    if not parts or duration <= 0:
        return []
    timed = [_TIMED.match(p) for p in parts]
    if all(timed):
        starts = [float(m.group(1)) for m in timed if m]
        beats = []
        for i, m in enumerate(m for m in timed if m):
            end = float(m.group(2)) if m.group(2) else (starts[i + 1] if i + 1 < len(starts) else duration)
            start, end = min(starts[i], duration), min(max(end, starts[i]), duration)
            if end > start:
                beats.append(Beat(start, end, m.group(3).strip()))
        return beats
    step = duration / len(parts)
    return [Beat(i * step, (i + 1) * step, p) for i, p in enumerate(parts)]


def _dialogue(text: str) -> list[str]:
    lines = []
    for raw in text.splitlines():
        line = raw.strip().lstrip("-*• ").strip()
        if line:
            lines.append(line)
    return lines


def plan_prompt(prompt: str, duration: float) -> PromptPlan:
    """Read `prompt` for a segment of `duration` seconds."""
    fields = split_fields(prompt)
    title = " ".join(fields.get("primary", "").split())
    if not title:
        title = " ".join(" ".join(fields.get(k, "") for k in ("subject", "action", "scene")).split())
    mood_text = " ".join(fields.get(k, "") for k in ("lighting", "scene", "style", "primary", "palette"))
    mood = _mood(mood_text)
    audio = fields.get("audio")
    dialogue = _dialogue(fields.get("dialogue", ""))
    has_audio = (audio is not None and audio.strip().lower().rstrip(".") not in _NO_AUDIO) or bool(dialogue)
    text = fields.get("text", "").strip().strip('"“”').strip() or None
    style = (fields.get("style", "") + " " + fields.get("lighting", "")).lower()
    return PromptPlan(
        title=title or "Untitled shot",
        palette=_palette(fields, mood),
        camera=camera_move(fields.get("camera", "")),
        beats=parse_beats(fields.get("timing", ""), duration),
        onscreen_text=text,
        dialogue=dialogue,
        audio=audio if has_audio else None,
        has_audio=has_audio,
        mood=mood,
        monochrome=any(w in style for w in ("black and white", "black-and-white", "monochrome", "b&w")),
        fields=fields,
    )

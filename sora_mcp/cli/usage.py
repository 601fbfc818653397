"""The command line's shared vocabulary: `UsageError` (a mistake in the command line, exit 2), the
prompt-field flags and the ranged-number argument type. Its own module so commands need not import
the modules that dispatch to them (the layering test forbids the cycle)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


class UsageError(Exception):
    """A mistake in the command line: exit 2."""


# flag → AugmentFields name; --negative fills `avoid` (what the shot must not show).
PROMPT_FIELDS: dict[str, str] = {
    "use-case": "use_case",
    "scene": "scene",
    "subject": "subject",
    "action": "action",
    "camera": "camera",
    "style": "style",
    "lighting": "lighting",
    "palette": "palette",
    "audio": "audio",
    "dialogue": "dialogue",
    "text": "text",
    "timing": "timing",
    "constraints": "constraints",
    "negative": "avoid",
}


def ranged(kind: type, low: float, high: float | None = None) -> Callable[[str], Any]:
    """An argparse type accepting numbers in [low, high] (a mistake exits 2 with the range)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a {kind.__name__}") from None
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: use a value {bound}")
        return value

    parse.__name__ = kind.__name__
    return parse

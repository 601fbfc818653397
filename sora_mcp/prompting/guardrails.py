"""Content guardrails checked before any backend call: a denylist on prompts and a face check on images.

The rules themselves are written for people and agents in `sora_mcp/content/guardrails.md`
(the `sora://guardrails` resource). Matching is on whole words after Unicode normalisation
(NFKC, accents and zero-width characters removed, look-alike letters folded, case folded,
punctuation runs read as one space), so `Mickey  Mouse`, `ＭＩＣＫＥＹ mouse`, `Spider-Man`
and `#spiderman` all match. The face check uses OpenCV's bundled Haar cascade and only runs
when the optional `faces` extra (`opencv-python-headless`) is installed.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sora_mcp.errors import GuardrailViolation


def _terms(block: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in block.replace("\n", ",").split(",") if t.strip())


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    fix: str
    terms: tuple[str, ...]


RULES: tuple[Rule, ...] = (
    Rule(
        "copyrighted_character",
        "no copyrighted characters",
        "Describe an original character of your own design instead (appearance, clothing, personality).",
        _terms(
            """
            Mickey Mouse, Minnie Mouse, Donald Duck, Spider-Man, Pikachu, Pokemon, Darth Vader, Yoda,
            Harry Potter, Hermione Granger, Batman, Superman, Wonder Woman, Iron Man, Captain America, Elsa,
            Super Mario, Mario Bros, Mario Brothers, Sonic the Hedgehog, Shrek, SpongeBob, Homer Simpson,
            Bart Simpson, Bugs Bunny, Hello Kitty, Optimus Prime, Buzz Lightyear, Peppa Pig, James Bond,
            Jack Sparrow, Lightning McQueen
            """
        ),
    ),
    Rule(
        "copyrighted_music",
        "no copyrighted music",
        "Describe the music instead (genre, tempo, instruments, mood), e.g. 'upbeat acoustic folk, hand claps'.",
        _terms(
            """
            Bohemian Rhapsody, Billie Jean, Shape of You, Despacito, Baby Shark, Hotel California,
            Stairway to Heaven, Smells Like Teen Spirit, Gangnam Style, Blinding Lights
            """
        ),
    ),
    Rule(
        "real_people",
        "no real people, including public figures",
        "Describe a fictional person by role and look instead (e.g. 'a tech CEO in a grey hoodie').",
        _terms(
            """
            Taylor Swift, Elon Musk, Barack Obama, Michelle Obama, Donald Trump, Joe Biden, Kamala Harris,
            Beyonce, Mark Zuckerberg, Jeff Bezos, Bill Gates, Tom Cruise, Leonardo DiCaprio, Kim Kardashian,
            Cristiano Ronaldo, Lionel Messi, Queen Elizabeth, King Charles, Pope Francis, Vladimir Putin,
            Xi Jinping, Oprah Winfrey, Keanu Reeves, Scarlett Johansson, Morgan Freeman, Emma Watson,
            Rihanna, Justin Bieber, Greta Thunberg
            """
        ),
    ),
    Rule(
        "under_18",
        "content suitable for under-18 audiences (no sexual content or graphic violence)",
        "Keep the scene suitable for all ages: imply action off-screen and keep everyone fully clothed.",
        _terms(
            """
            nude, nudity, naked, topless, porn, porno, pornography, pornographic, nsfw, sex scene,
            explicit sex, sexual intercourse, erotic, hentai, stripper, gore, gory, decapitation,
            decapitated, beheading, beheaded, dismemberment, dismembered, disembowel, disemboweled,
            mutilation, mutilated, torture, tortured, bloodbath, blood splatter
            """
        ),
    ),
)

# Latin look-alikes from Cyrillic and Greek that NFKC leaves alone (a homoglyph dodge).
_CONFUSABLES = str.maketrans("авекмнорстухіјѕԁɡαεικνορτυχ", "abekmhopctyxijsdgaeikvoptux")


def normalise(text: str) -> str:
    """Fold text for matching: NFKC, case, accents, zero-width/format chars, look-alikes, punctuation."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = unicodedata.normalize("NFKD", text)
    # Mn: accents; Cf: zero-width joiners, soft hyphens and other invisible format characters.
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Mn", "Cf"))
    text = text.translate(_CONFUSABLES)
    return " ".join(re.sub(r"[^\w]+|_", " ", text).split())


@cache
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    forms: dict[str, str] = {}
    for term in terms:
        norm = normalise(term)
        if not norm:
            continue
        forms.setdefault(norm, term)
        if " " in norm:
            forms.setdefault(norm.replace(" ", ""), term)  # hashtags and run-together spellings
    if not forms:
        return None
    alternatives = sorted(forms, key=len, reverse=True)
    return re.compile(
        r"(?<!\w)(" + "|".join(re.escape(a).replace(r"\ ", " ") for a in alternatives) + r")(?!\w)"
    )


def _first_match(norm_text: str, terms: tuple[str, ...]) -> str | None:
    pattern = _pattern(terms)
    if pattern is None:
        return None
    found = pattern.search(norm_text)
    if not found:
        return None
    lookup = {normalise(t): t for t in terms}
    lookup.update({normalise(t).replace(" ", ""): t for t in terms})
    return lookup.get(found.group(1), found.group(1))


def check_prompt(text: str, extra_denylist: Sequence[str] = ()) -> None:
    """Raise `GuardrailViolation` when the text names something a rule (or the extra denylist) forbids."""
    norm = normalise(text)
    for rule in RULES:
        term = _first_match(norm, rule.terms)
        if term:
            raise GuardrailViolation(
                f"The request mentions '{term}', which breaks the content rule: {rule.title}.",
                fix=f"{rule.fix} The rules are in the sora://guardrails resource.",
            )
    extra = tuple(t for t in extra_denylist if t and t.strip())
    term = _first_match(norm, extra) if extra else None
    if term:
        raise GuardrailViolation(
            f"The request mentions '{term}', which is on this server's denylist (SORA_MCP_DENYLIST).",
            fix="Rephrase the request without it, or ask the server's operator to change the denylist.",
        )


def faces_available() -> bool:
    """True when OpenCV (the optional `faces` extra) is installed, so `check_faces` really checks."""
    return importlib.util.find_spec("cv2") is not None


def check_faces(path: Path) -> None:
    """Refuse an image showing a human face; does nothing when OpenCV is not installed.

    Blocking (OpenCV work): call it from a worker thread in async code.
    """
    if not faces_available():
        return
    import cv2  # the optional extra; imported lazily to keep start-up fast

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        return  # the reference checks already verified the bytes; OpenCV may lack a codec (e.g. WebP)
    cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"))
    side = max(24, min(image.shape[:2]) // 12)
    faces = cascade.detectMultiScale(image, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
    if len(faces) > 0:
        raise GuardrailViolation(
            f"The input_reference image shows a human face ({len(faces)} found), which breaks the content rule: "
            "no input images with human faces.",
            fix="Use an image without people (a place, an object, an illustration of a non-human character).",
        )

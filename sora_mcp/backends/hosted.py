"""Hosted providers' request and catalog shapes: sizes as resolution + aspect ratio or width + height,
and a provider's video-models answer turned into catalog entries.

OpenRouter (openrouter.ai/docs "Video Generation", "api-reference/videos") takes `resolution`
("720p") and `aspect_ratio` ("16:9") instead of `size`, and lists every model's sizes, durations,
frame-image kinds, audio and prices at `GET /videos/models`. Together (docs.together.ai
"create-videos") takes integer `width`/`height`. The functions here are pure data conversions,
chosen by the `Dialect` record's fields (`size_encoding`, `models_path`), never by its name.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from typing import Any

_PIXELS = re.compile(r"^(\d+)p$")


def _dims(size: str) -> tuple[int, int] | None:
    try:
        w, h = (int(part) for part in size.lower().split("x", 1))
    except ValueError:
        return None
    return (w, h) if w > 0 and h > 0 else None


def aspect_of(size: str) -> str | None:
    """`1280x720` → `16:9`; `1024x1024` → `1:1`."""
    dims = _dims(size)
    if dims is None:
        return None
    w, h = dims
    g = math.gcd(w, h)
    return f"{w // g}:{h // g}"


def resolution_of(size: str) -> str | None:
    """`1280x720` → `720p` (the short side, as providers name resolutions)."""
    dims = _dims(size)
    return f"{min(dims)}p" if dims else None


def size_of(resolution: object, aspect: object) -> str | None:
    """`720p` + `16:9` → `1280x720`; None for labels without a pixel count (`2K`)."""
    if not isinstance(resolution, str) or not isinstance(aspect, str):
        return None
    match = _PIXELS.match(resolution.strip().lower())
    try:
        a, b = (int(part) for part in aspect.split(":", 1))
    except ValueError:
        return None
    if match is None or a <= 0 or b <= 0:
        return None
    short = int(match.group(1))
    long_side = int(round(short * max(a, b) / min(a, b) / 2) * 2)
    return f"{long_side}x{short}" if a >= b else f"{short}x{long_side}"


def size_fields(
    encoding: str, size: str | None, known: Mapping[str, tuple[str, str]] | None = None
) -> dict[str, Any]:
    """The body fields that carry `size` in a dialect's encoding.

    `known` maps a size to the (resolution, aspect_ratio) labels the provider itself listed for the
    model, so labels like `2K` go back exactly as the provider spells them.
    """
    if size is None:
        return {}
    if encoding == "resolution_aspect":
        resolution, aspect = (known or {}).get(size) or (resolution_of(size), aspect_of(size))
        return {"resolution": resolution, "aspect_ratio": aspect}
    if encoding == "width_height":
        dims = _dims(size)
        return {"width": dims[0], "height": dims[1]} if dims else {"size": size}
    return {"size": size}


def image_data_url(raw: bytes, mime_type: str | None) -> str:
    """A local reference image as a `data:` URL, for JSON APIs that take image URLs only."""
    return f"data:{mime_type or 'image/png'};base64,{base64.b64encode(raw).decode('ascii')}"


def frame_image(url: str) -> list[dict[str, Any]]:
    """OpenRouter's `frame_images` entry that makes an image the clip's first frame."""
    return [{"type": "image_url", "image_url": {"url": url}, "frame_type": "first_frame"}]


# -- a provider's video-models answer → catalog entries -----------------------------------------


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _price(skus: Mapping[str, Any], resolution: str | None) -> float | None:
    """USD per second at a resolution from `pricing_skus` (`per-video-second[-720p]`)."""
    for key in (f"per-video-second-{resolution}" if resolution else "", "per-video-second"):
        if key and key in skus:
            try:
                return float(skus[key])
            except (TypeError, ValueError):
                return None
    return None


def _reported(item: Mapping[str, Any]) -> str:
    """The provider's own words for a model's limits (its labels, not our sizes), for `sora://models`."""
    parts = [
        f"{what} {', '.join(_strings(item.get(key))) or 'none listed'}"
        for what, key in (
            ("resolutions", "supported_resolutions"),
            ("aspect ratios", "supported_aspect_ratios"),
            ("durations", "supported_durations"),
            ("frame images", "supported_frame_images"),
        )
    ]
    parts += [
        f"{what} {'yes' if item.get(key) else 'no'}"
        for what, key in (("audio", "generate_audio"), ("seed", "seed"))
    ]
    return "; ".join(parts)


def catalog_entry(
    item: Mapping[str, Any], *, label: str, source: str
) -> tuple[dict[str, Any], dict[str, tuple[str, str]]] | None:
    """One model of a video-models answer as a catalog entry, and its size → (resolution, aspect) map.

    None when the model reports nothing usable (no sizes can be derived).
    """
    model_id = item.get("id")
    if not isinstance(model_id, str) or not model_id:
        return None
    labels: dict[str, tuple[str, str]] = {}
    for resolution in _strings(item.get("supported_resolutions")):
        for aspect in _strings(item.get("supported_aspect_ratios")):
            if (size := size_of(resolution, aspect)) is not None:
                labels.setdefault(size, (resolution, aspect))
    sizes = [
        s.lower() for s in _strings(item.get("supported_sizes")) if re.match(r"^\d{2,5}x\d{2,5}$", s.lower())
    ]
    # A listed size no "720p"-style label explains: when the model has exactly one label without a
    # pixel count ("2K"), that is its label; otherwise its short side in "p".
    unnamed = [r for r in _strings(item.get("supported_resolutions")) if size_of(r, "1:1") is None]
    for size in sizes:
        if size not in labels and (res := resolution_of(size)) and (asp := aspect_of(size)):
            labels[size] = (unnamed[0] if len(unnamed) == 1 else res, asp)
    sizes = sizes or list(labels)
    if not sizes:
        return None
    durations = [
        str(int(d)) for d in item.get("supported_durations") or [] if isinstance(d, int | float) and d > 0
    ]
    raw_skus = item.get("pricing_skus")
    skus: Mapping[str, Any] = raw_skus if isinstance(raw_skus, dict) else {}
    prices = {s: p for s in sizes if (p := _price(skus, labels.get(s, (None,))[0])) is not None}
    frames = _strings(item.get("supported_frame_images"))
    short = model_id.rsplit("/", 1)[-1]
    entry: dict[str, Any] = {
        "id": model_id,
        "aliases": [short] if short != model_id else [],
        "family": model_id.split("/", 1)[0],
        "backends": [label],
        "description": item.get("name") if isinstance(item.get("name"), str) else None,
        "sizes": sizes,
        "supports": {"input_reference": "first_frame" in frames, "audio": bool(item.get("generate_audio"))},
        "price_usd_per_second": prices,
        "source": f"{source}: {_reported(item)}",
    }
    if durations:
        entry["seconds"] = sorted(set(durations), key=int)
    else:  # no durations reported: the provider decides; basic 1-60 s checks only
        entry.update(max_frames=60, fps=1, verified=False)
    return entry, labels


def catalog_entries(
    body: object, *, label: str, source: str
) -> tuple[list[dict[str, Any]], dict[str, dict[str, tuple[str, str]]]]:
    """Every usable model in a video-models answer, and each model's size labels."""
    items = body.get("data") if isinstance(body, dict) else body
    entries: list[dict[str, Any]] = []
    labels: dict[str, dict[str, tuple[str, str]]] = {}
    seen_alias: dict[str, int] = {}
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and (made := catalog_entry(item, label=label, source=source)):
            entries.append(made[0])
            labels[made[0]["id"].casefold()] = made[1]
            for alias in made[0]["aliases"]:
                seen_alias[alias.casefold()] = seen_alias.get(alias.casefold(), 0) + 1
    ids = {e["id"].casefold() for e in entries}
    for entry in entries:  # an alias two models share, or that is another model's id, names neither
        entry["aliases"] = [
            a for a in entry["aliases"] if seen_alias[a.casefold()] == 1 and a.casefold() not in ids
        ]
    return entries, labels

"""Request bodies → validated values, enforcing OpenAI's published model rules.

Accepts `application/json` and `multipart/form-data` (what the openai SDK sends, with nested
objects as `video[id]` / `input_reference[image_url]` fields) alike; unknown fields are ignored.
Every refusal is a 400 in OpenAI's envelope naming the field, the problem and the fix; a number
JSON can spell but no field can use (`1e400`, `NaN`, a 5,000-digit integer) is one of them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from sora_mcp.engine.errors import ApiError, bad_request

MAX_PROMPT = 32000
MAX_IMAGE_BYTES = 20 * 1024 * 1024
BASE_SIZES = ("720x1280", "1280x720")
PRO_SIZES = BASE_SIZES + ("1024x1792", "1792x1024")
MODELS: dict[str, tuple[str, ...]] = {"sora-2": BASE_SIZES, "sora-2-pro": PRO_SIZES}
CREATE_SECONDS = (4, 8, 12)
EXTENSION_SECONDS = (4, 8, 12, 16, 20)
DEFAULT_MODEL, DEFAULT_SIZE, DEFAULT_SECONDS = "sora-2", "720x1280", "4"
IMAGE_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
INT_LIMIT = 2**63  # JSON integers outside ±2^63 fit no field


class _BadNumber:
    """A JSON number no field can hold, kept as written so the refusal can name it and its field."""

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> int | _BadNumber:
    # Checked on the digits before int(): a 5,000-digit literal must not reach int() (ValueError/slow).
    if len(text.lstrip("-")) > 19:
        return _BadNumber(text)
    value = int(text)
    return value if -INT_LIMIT <= value < INT_LIMIT else _BadNumber(text)


def _parse_float(text: str) -> float | _BadNumber:
    value = float(text)
    return value if math.isfinite(value) else _BadNumber(text)


def _bad_number_field(data: Any) -> tuple[str, str] | None:
    """`(field path, number as written)` of the first bad number, walking without recursion."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _BadNumber):
            return path or "(body)", value.text
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return None


def load_json(raw: bytes) -> dict[str, Any]:
    """A JSON object body; a 400 naming the field for numbers out of range (1e400, NaN, huge ints)."""
    try:
        data = json.loads(
            raw or b"{}", parse_int=_parse_int, parse_float=_parse_float, parse_constant=_BadNumber
        )
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request("The request body is not valid JSON. Send a JSON object or multipart/form-data.")
    bad = _bad_number_field(data)
    if bad is not None:
        field, text = bad
        raise bad_request(
            f"Invalid number for '{field}': {text[:40]}{'...' if len(text) > 40 else ''} is not a finite "
            "number in range (whole numbers up to ±2^63, decimals that are not NaN or Infinity). "
            "Send an ordinary number.",
            param=field,
        )
    if not isinstance(data, dict):
        raise bad_request("The JSON request body must be an object with the request fields.")
    return data


async def read_body(request: Request) -> dict[str, Any]:
    """The request's fields as a dict (nested objects rebuilt from `a[b]` multipart keys).

    The engine's guard has already refused any other content type (415) and bodies over its cap.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return load_json(await request.body())
    if content_type == "multipart/form-data":
        # Text fields may carry a base64 data: URL image (4/3 of the bytes).
        form = await request.form(max_part_size=MAX_IMAGE_BYTES * 4 // 3 + 1024)
        data: dict[str, Any] = {}
        for key, value in form.multi_items():
            if "[" in key and key.endswith("]"):
                outer, inner = key[:-1].split("[", 1)
                nested = data.setdefault(outer, {})
                if isinstance(nested, dict):
                    nested[inner] = value
            else:
                data[key] = value
        return data
    raise ApiError(
        415,
        f"Unsupported Content-Type '{content_type}'. Send application/json or multipart/form-data.",
        code="unsupported_content_type",
    )


def prompt_of(data: dict[str, Any]) -> str:
    value = data.get("prompt")
    if value is None:
        raise bad_request(
            "Missing required parameter: 'prompt'. Describe the video to generate.",
            param="prompt",
            code="missing_required_parameter",
        )
    if not isinstance(value, str):
        raise bad_request("'prompt' must be a string.", param="prompt")
    if not value.strip():
        raise bad_request("'prompt' is empty. Give a prompt of 1 to 32000 characters.", param="prompt")
    if len(value) > MAX_PROMPT:
        raise bad_request(
            f"'prompt' is too long: {len(value)} characters, the maximum is {MAX_PROMPT}. Shorten it.",
            param="prompt",
        )
    return value


def sizes_for(model: str) -> tuple[str, ...] | None:
    # Dated snapshots (sora-2-pro-2025-10-06, ...) follow their family's rules.
    for family in ("sora-2-pro", "sora-2"):
        if model == family or model.startswith(family + "-20"):
            return MODELS[family]
    return None


def model_of(data: dict[str, Any]) -> str:
    value = data.get("model", DEFAULT_MODEL)
    if not isinstance(value, str) or sizes_for(value) is None:
        raise bad_request(
            f"Invalid 'model': {value!r}. This engine serves: {', '.join(MODELS)} (and their dated snapshots).",
            param="model",
        )
    return value


def size_of(data: dict[str, Any], model: str) -> str:
    value = data.get("size", DEFAULT_SIZE)
    allowed = sizes_for(model) or ()
    if value not in allowed:
        hint = " Larger sizes need sora-2-pro." if value in PRO_SIZES else ""
        raise bad_request(
            f"Invalid 'size' {value!r} for model {model}. Allowed: {', '.join(allowed)}.{hint}", param="size"
        )
    return str(value)


def seconds_of(data: dict[str, Any], *, allowed: tuple[int, ...], default: str | None) -> int:
    value = data.get("seconds", default)
    if value is None:
        raise bad_request(
            f"Missing required parameter: 'seconds'. Allowed: {', '.join(map(str, allowed))}.",
            param="seconds",
            code="missing_required_parameter",
        )
    parsed: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        parsed = value
    elif isinstance(value, str) and _is_whole(value.strip(), digits=3):
        parsed = int(value.strip())
    if parsed not in allowed:
        shown = repr(value) if isinstance(value, (str, int, float)) else type(value).__name__
        raise bad_request(
            f"Invalid 'seconds' {shown[:40]}. Allowed: {', '.join(map(str, allowed))}.", param="seconds"
        )
    return parsed


def _is_whole(text: str, *, digits: int) -> bool:
    """ASCII decimal digits (an optional leading '-') of at most `digits` digits: safe for int()."""
    body = text.removeprefix("-")
    return 0 < len(body) <= digits and body.isascii() and body.isdigit()


def seed_of(data: dict[str, Any]) -> int | None:
    """The optional `seed` extra field (an integer, or its decimal string from multipart)."""
    value = data.get("seed")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value & 0x7FFFFFFF
    if isinstance(value, str) and _is_whole(value.strip(), digits=19):
        return int(value.strip()) & 0x7FFFFFFF
    shown = repr(value) if isinstance(value, (str, int, float)) else type(value).__name__
    raise bad_request(f"Invalid 'seed' {shown[:40]}: give a whole number (up to 19 digits).", param="seed")


def stable_seed(prompt: str, size: str, seconds: int) -> int:
    digest = hashlib.sha256(f"{prompt}\x00{size}\x00{seconds}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def video_ref_of(data: dict[str, Any]) -> str:
    """The `video: {id}` reference of an extension or edit."""
    value = data.get("video")
    if isinstance(value, str):  # tolerate a JSON-encoded object sent as one form field
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value["id"]
    if isinstance(value, UploadFile):
        raise bad_request(
            'This engine cannot take an uploaded video. Reference a completed video as video: {"id": "video_..."}.',
            param="video",
        )
    raise bad_request(
        'Missing or invalid \'video\': give the completed video to use as video: {"id": "video_..."}.',
        param="video",
        code="missing_required_parameter",
    )


def sniff_image(head: bytes) -> str | None:
    """The image MIME type from magic bytes, for the three formats OpenAI accepts."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _checked_image(payload: bytes, what: str) -> tuple[bytes, str]:
    if len(payload) > MAX_IMAGE_BYTES:
        raise bad_request(f"{what} is larger than 20 MB. Use a smaller image.", param="input_reference")
    mime = sniff_image(payload[:16])
    if mime is None:
        raise bad_request(
            f"{what} is not a JPEG, PNG or WebP image (its bytes do not start like one). "
            "Upload a .jpg, .png or .webp file.",
            param="input_reference",
            code="invalid_image",
        )
    from PIL import Image  # lazy: only needed for uploads

    try:
        with Image.open(io.BytesIO(payload)) as image:
            image.verify()
    except (OSError, SyntaxError, ValueError):  # what Pillow raises for bad image data
        raise bad_request(
            f"{what} looks like {mime} but cannot be decoded (truncated or corrupt). Upload a valid image.",
            param="input_reference",
            code="invalid_image",
        )
    return payload, IMAGE_EXT[mime]


def _from_image_url(url: str) -> tuple[bytes, str]:
    if url.startswith("data:"):
        header, _, encoded = url.partition(",")
        if ";base64" not in header:
            raise bad_request(
                "input_reference.image_url data: URL must be base64-encoded (data:image/png;base64,...).",
                param="input_reference",
            )
        try:
            payload = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("input_reference.image_url holds invalid base64 data.", param="input_reference")
        return _checked_image(payload, "input_reference.image_url")
    if url.startswith(("https://", "http://")):
        raise bad_request(
            "This engine has no network access and cannot fetch remote image URLs. "
            "Pass the image as a base64 data: URL in input_reference.image_url, or upload the file.",
            param="input_reference",
            code="unsupported_value",
        )
    raise bad_request(
        "input_reference.image_url must be an https:// URL or a base64 data: URL.", param="input_reference"
    )


async def reference_of(data: dict[str, Any]) -> tuple[bytes, str] | None:
    """The input reference image's bytes and file extension, or None when absent."""
    value = data.get("input_reference")
    if value is None or value == "":
        return None
    if isinstance(value, UploadFile):
        payload = await value.read(MAX_IMAGE_BYTES + 1)
        return _checked_image(payload, f"The uploaded input_reference '{value.filename or 'file'}'")
    if isinstance(value, str):
        if value.startswith("data:"):
            return _from_image_url(value)
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if not isinstance(value, dict):
        raise bad_request(
            "input_reference must be an uploaded image file or an object with one of image_url / file_id.",
            param="input_reference",
        )
    given = [key for key in ("image_url", "file_id") if value.get(key)]
    if len(given) != 1:
        raise bad_request(
            "input_reference must have exactly one of 'image_url' or 'file_id'.", param="input_reference"
        )
    if given[0] == "file_id":
        raise bad_request(
            "This engine has no Files API, so input_reference.file_id cannot be resolved. "
            "Upload the image file or pass it as a base64 data: URL in image_url.",
            param="input_reference",
            code="unsupported_value",
        )
    url = value["image_url"]
    if not isinstance(url, str):
        raise bad_request("input_reference.image_url must be a string.", param="input_reference")
    return _from_image_url(url)

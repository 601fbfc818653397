"""How each `/v1/videos` dialect differs, and the normalisation that hides it.

A `Dialect` says what a backend family can do (remix, delete, named variants, ...) and how it
wants a create encoded (multipart form or JSON, seconds as text or integer). `normalize_video`
turns any job object — OpenAI's, vLLM-Omni's, SGLang's, LiteLLM's or a gateway's with
`processing`/`succeeded`, `duration`, `aspect_ratio`, `video_url` — into a `RemoteVideo`.
Hosted providers (OpenRouter, Together) are records too: how they encode size and duration,
where their content and model catalog live, and which status words mean something else there
(OpenRouter's `expired` is a job that failed to deliver, not an archived clip that aged out).
Which record a backend gets is decided in `known.py` (set, by host, or detected); `generic`
tolerates every shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict

from sora_mcp.config import HOSTED, DialectName
from sora_mcp.models import JobError, RemoteVideo, Status

Encoding = Literal["multipart", "json"]
SizeEncoding = Literal["size", "resolution_aspect", "width_height"]
Reference = Literal["input_reference", "image_reference", "frame_images", "none"]


@dataclass(frozen=True)
class Dialect:
    """Everything one backend family does differently; code reads these fields, never the name."""

    name: DialectName
    label: str  # how messages name the backend
    encoding: Encoding
    seconds_int: bool = False
    remix: bool = True
    extend: bool = True
    edit: bool = True
    delete: bool = True
    # No DELETE route in the versions read, but one may be forwarded: ask, and let a 404/405/501 say no.
    # Without it a dialect lacking delete is refused before any request.
    probe_delete: bool = False
    named_variants: bool = True  # can it serve thumbnail/spritesheet (or at least be asked)?
    json_fallback: bool = False  # retry a create as JSON once on 415 (nothing was created)
    list_route: bool = True  # has `GET /videos`
    size_encoding: SizeEncoding = "size"
    seconds_field: str = "seconds"
    reference: Reference = "input_reference"  # how input_reference travels in a JSON body
    content_route: bool = True  # has `GET /videos/{id}/content` (else only a completion's URL)
    content_params: tuple[tuple[str, str], ...] = ()  # fixed query of the content route
    models_path: str | None = None  # per-model sizes/durations/prices (a video-models endpoint)
    # Raw status words that mean another status here, with the message the job's error carries.
    status_words: tuple[tuple[str, Status, str], ...] = ()
    hosts: tuple[str, ...] = ()  # hosts that identify it, so detection needs no request
    callback_field: str | None = None  # the create field naming a URL to push completion to
    # A guess, not a finding (`generic`): the first job answer may name the real dialect, and a
    # refused create may just mean the backend wants another dialect's encoding.
    provisional: bool = False
    # LiteLLM's ids encode the provider behind the proxy: read it back, and give a remix's raw
    # source id back in the encoded form the proxy accepts.
    encoded_ids: bool = False
    list_provider_header: str | None = None  # the header naming that provider on `GET /videos`
    replays_idempotency: bool = False  # a resend with the same Idempotency-Key returns the same job

    @property
    def webhooks(self) -> bool:
        return self.callback_field is not None


# Hosted providers' async video APIs: create, retrieve and content only (no list, remix, extend,
# edit or delete; one unnamed output per job).
class _Capabilities(TypedDict, total=False):
    remix: bool
    extend: bool
    edit: bool
    delete: bool
    named_variants: bool
    list_route: bool


_CREATE_ONLY: _Capabilities = {
    "remix": False,
    "extend": False,
    "edit": False,
    "delete": False,
    "named_variants": False,
    "list_route": False,
}

_RECORDS: tuple[Dialect, ...] = (
    Dialect("openai", "OpenAI", "multipart", hosts=("api.openai.com",)),
    Dialect("engine", "the embedded engine", "multipart", replays_idempotency=True),
    # vLLM-Omni: form fields only, MP4 whatever the variant, no remix/extend/edit.
    Dialect(
        "vllm-omni",
        "vLLM-Omni",
        "multipart",
        remix=False,
        extend=False,
        edit=False,
        named_variants=False,
        reference="image_reference",  # its JSON-safe name for a URL/file_id reference
    ),
    # SGLang diffusion: JSON (multipart only with an upload), integer seconds, variant = index.
    Dialect(
        "sglang",
        "SGLang",
        "json",
        seconds_int=True,
        remix=False,
        extend=False,
        edit=False,
        named_variants=False,
    ),
    # LiteLLM proxy: JSON; no DELETE route; variant is not forwarded (the MP4 comes back).
    # Its extension/edit routes (newer versions) work only when the provider behind has them;
    # a missing route is refused by `Backend` with the backend named.
    Dialect(
        "litellm",
        "LiteLLM",
        "json",
        delete=False,
        probe_delete=True,
        encoded_ids=True,
        list_provider_header="custom-llm-provider",
    ),
    Dialect("generic", "generic /v1/videos", "multipart", json_fallback=True, provisional=True),
    # OpenRouter (openrouter.ai/docs/api/api-reference/video-generation): JSON, integer `duration`,
    # `resolution` + `aspect_ratio`, a first frame in `frame_images`, content at
    # /videos/{id}/content?index=0, models at /videos/models; no list, remix, extend, edit or delete.
    Dialect(
        "openrouter",
        "OpenRouter",
        "json",
        seconds_int=True,
        **_CREATE_ONLY,
        size_encoding="resolution_aspect",
        seconds_field="duration",
        reference="frame_images",
        content_params=(("index", "0"),),
        models_path="/videos/models",
        status_words=(
            (
                "expired",
                "failed",
                (
                    "The provider's output expired before it was downloaded; it cannot be fetched any more. "
                    "Create the clip again and download it soon after it completes."
                ),
            ),
        ),
        hosts=HOSTED["openrouter"].hosts,
        callback_field="callback_url",
    ),
    # Together (docs.together.ai/reference/create-videos): JSON, `width`/`height`, `seconds` as text,
    # statuses in_progress|completed|failed, cost and `video_url` under `outputs`, no content route.
    Dialect(
        "together",
        "Together AI",
        "json",
        **_CREATE_ONLY,
        size_encoding="width_height",
        reference="none",
        content_route=False,
        hosts=HOSTED["together"].hosts,
    ),
)
DIALECTS: dict[DialectName, Dialect] = {d.name: d for d in _RECORDS}

_STATUS_ALIASES: dict[str, Status] = {}
for _status, _aliases in {
    "queued": "queued pending submitted waiting created accepted scheduled new not_started starting enqueued",
    "in_progress": "in_progress processing running generating rendering started active working inprogress",
    "completed": "completed complete succeeded success successful done finished ready",
    "failed": "failed failure error errored rejected",
    "cancelled": "cancelled canceled aborted",
    "expired": "expired",
    "deleted": "deleted",
}.items():
    for _alias in _aliases.split():
        _STATUS_ALIASES[_alias] = _status  # type: ignore[assignment]


def normalize_status(raw: object) -> Status:
    """Map any backend's status word onto `Status`; unknown words count as still running."""
    word = str(raw or "").strip().lower().replace("-", "_").replace(" ", "_")
    return _STATUS_ALIASES.get(word, "in_progress" if word else "queued")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().lower().removesuffix("s").strip()
    try:
        return float(text)
    except ValueError:
        return None


def seconds_text(value: object) -> str | None:
    """`8`, `8.0`, `"8"`, `"8s"` → `"8"`; `5.5` → `"5.5"`; nonsense → None."""
    number = _number(value)
    if number is None or number <= 0:
        return None
    return str(int(number)) if number == int(number) else f"{number:g}"


def _progress(value: object, status: Status) -> int:
    if status == "completed":
        return 100  # SGLang caps at 99 until done; some gateways never report it
    number = _number(value)
    if number is None:
        return 0
    if isinstance(value, float) and 0 < number < 1:
        number *= 100  # a fraction, as some gateways report it
    return max(0, min(100, int(number)))


def _size(data: dict[str, Any]) -> str | None:
    size = data.get("size") or data.get("resolution")
    if isinstance(size, str) and "x" in size.lower():
        return size.lower().replace(" ", "")
    width, height = data.get("width"), data.get("height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return f"{width}x{height}"
    return _size_from_aspect(data.get("aspect_ratio"), size)


def _size_from_aspect(aspect: object, resolution: object) -> str | None:
    """`16:9` + `720p` → `1280x720`. Without a resolution the size is unknowable: None."""
    if not isinstance(aspect, str) or ":" not in aspect or not isinstance(resolution, str):
        return None
    short = _number(resolution.lower().removesuffix("p"))
    try:
        a, b = (float(part) for part in aspect.split(":", 1))
    except ValueError:
        return None
    if not short or a <= 0 or b <= 0:
        return None
    long_side = int(round(short * max(a, b) / min(a, b) / 2) * 2)
    return f"{long_side}x{int(short)}" if a >= b else f"{int(short)}x{long_side}"


def _timestamp(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value / 1000) if value > 1e11 else int(value)  # milliseconds on some gateways
    try:
        return int(datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return None


def _error(data: dict[str, Any]) -> JobError | None:
    err = data.get("error")
    if isinstance(err, dict):
        message = err.get("message") or err.get("detail") or json.dumps(err)
        return JobError(code=str(err.get("code") or err.get("type") or "error"), message=str(message))
    if isinstance(err, str) and err:
        return JobError(code="error", message=err)
    for key in ("error_message", "failure_reason", "fail_reason"):
        if data.get(key):
            return JobError(code="error", message=str(data[key]))
    return None


def _first_url(value: object) -> str | None:
    items = value if isinstance(value, list) else [value]
    return next((v for v in items if isinstance(v, str) and v.startswith(("http://", "https://"))), None)


def _video_url(data: dict[str, Any]) -> str | None:
    # Signed `urls` first (they carry their own authorisation), then `unsigned_urls` (OpenRouter).
    for holder in (data, data.get("output"), data.get("outputs"), data.get("result")):
        if isinstance(holder, dict):
            for key in ("video_url", "url", "download_url", "urls", "unsigned_urls"):
                if (value := _first_url(holder.get(key))) is not None:
                    return value
    return None


def _cost(data: dict[str, Any]) -> float | None:
    """What the provider billed: OpenRouter's `usage.cost`, Together's `outputs.cost`."""
    for holder in (data.get("usage"), data.get("outputs"), data):
        if isinstance(holder, dict) and (number := _number(holder.get("cost"))) is not None and number >= 0:
            return number
    return None


def normalize_video(
    data: dict[str, Any], *, poll_after_ms: int | None = None, dialect: Dialect | None = None
) -> RemoteVideo:
    """Any backend's job object → `RemoteVideo` (status normalised, raw status kept)."""
    raw_status = data.get("status") if data.get("status") is not None else data.get("state")
    status = normalize_status(raw_status)
    word = str(raw_status or "").strip().lower()
    meaning = next((w for w in (dialect.status_words if dialect else ()) if w[0] == word), None)
    if meaning is not None:
        status = meaning[1]
    video_id = data.get("id") or data.get("video_id") or data.get("task_id") or data.get("job_id")
    seconds = data.get("seconds") if data.get("seconds") is not None else data.get("duration")
    error = _error(data) if status == "failed" or data.get("error") else None
    if meaning is not None:  # say what the word means here, keeping the provider's own words
        said = f" (the provider said: {error.message})" if error else ""
        error = JobError(code=word, message=meaning[2] + said)
    return RemoteVideo(
        id=str(video_id or ""),
        status=status,
        raw_status=None if raw_status is None else str(raw_status),
        progress=_progress(data.get("progress"), status),
        model=data.get("model") if isinstance(data.get("model"), str) else None,
        size=_size(data),
        seconds=seconds_text(seconds),
        prompt=data.get("prompt") if isinstance(data.get("prompt"), str) else None,
        remixed_from_video_id=data.get("remixed_from_video_id"),
        created_at=_timestamp(data.get("created_at")),
        completed_at=_timestamp(data.get("completed_at")),
        expires_at=_timestamp(data.get("expires_at")),
        error=error,
        video_url=_video_url(data),
        cost_usd=_cost(data),
        poll_after_ms=poll_after_ms,
    )


def form_value(value: object) -> str:
    """A provider field as a multipart form value (objects as JSON, booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)

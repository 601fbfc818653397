"""Argument types shared by the MCP tools, the `shot` object, and the small helpers that turn
arguments into what the service takes (`shot_fields`, `flat_jobs`, `one_or_many`, `batch_defaults`).

The fourteen shot details are declared once (on `AugmentFields`) and reach the agent as one
`shot` object whose fields are named, not described: `sora://prompt-template` explains them, so
they are not repeated in every tool's schema. `disk_guard` wraps every tool (a full disk answers
with its fix). Budget approval (the hidden `approval` parameter) is in `approval`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import Field, WithJsonSchema

from sora_mcp.errors import InvalidInput, SoraError, as_disk_full
from sora_mcp.prompting import AugmentFields

SHOT_FIELDS = tuple(AugmentFields.model_fields)
SHOT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Optional shot details, one labelled prompt line each (sora://prompt-template).",
    # Names only (the template explains them): listing `properties` would cost ~20 bytes more per field.
    "propertyNames": {"enum": list(SHOT_FIELDS)},
    "additionalProperties": {"type": "string"},
}

Prompt = Annotated[str, Field(description="What the video shows (1-32000 characters).")]
VideoId = Annotated[str, Field(description="A job id from create_video or list_videos.")]
Model = Annotated[str, Field(description="Model id (sora://models lists sizes and durations).")]
Size = Annotated[str, Field(description="WIDTHxHEIGHT: 1280x720 landscape, 720x1280 portrait.")]
Seconds = Annotated[str | int, Field(description="Duration: 4, 8 or 12 for the sora-2 family.")]
InputReference = Annotated[
    str | None,
    Field(
        description="First-frame image: a jpg/png/webp path in the allowed folders, an https or data: URL, "
        "or a file id."
    ),
]
Shot = Annotated[AugmentFields | None, WithJsonSchema(SHOT_SCHEMA)]
Augment = Annotated[bool, Field(description="false: send the prompt exactly as written.")]
Extra = Annotated[
    dict[str, Any] | None,
    WithJsonSchema({"type": "object", "description": "Backend fields passed through (e.g. seed)."}),
]
DryRun = Annotated[bool, Field(description="Run every check and quote the cost; create nothing.")]
BackendName = Annotated[
    str | None,
    Field(description="A backend named in the backends file; only needed when several serve the model."),
]

BATCH_JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string"},
        "model": {"type": "string"},
        "size": {"type": "string"},
        "seconds": {"type": ["string", "integer"]},
        "input_reference": {"type": "string"},
        "augment": {"type": "boolean"},
        "shot": {"type": "object"},
        "extra": {"type": "object"},
        "backend": {"type": "string"},
    },
    # Not closed: a job may also give the shot fields flat (as a JSONL line does); unknown keys are
    # refused per job by the batch, naming the allowed ones.
}
BatchJobs = Annotated[
    list[dict[str, Any]] | None,
    WithJsonSchema(
        {
            "type": "array",
            "maxItems": 100,
            "items": BATCH_JOB_SCHEMA,
            "description": "The jobs: each like create_video's arguments.",
        }
    ),
]
JsonlPath = Annotated[
    str | None,
    Field(
        description="Or a .jsonl file in the allowed folders: one job (JSON object or plain prompt) per line."
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def shot_fields(shot: AugmentFields | dict[str, Any] | None) -> AugmentFields:
    return AugmentFields.model_validate(shot or {})


def flat_jobs(jobs: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Batch jobs as the service reads them: each job's `shot` details beside its other keys."""
    if jobs is None:
        return None
    out = []
    for job in jobs:
        flat = {k: v for k, v in job.items() if k != "shot" and v is not None}
        flat.update({k: v for k, v in (job.get("shot") or {}).items() if v is not None})
        out.append(flat)
    return out


def one_or_many(video_id: str | None, video_ids: list[str] | None) -> list[str]:
    """get_status's job ids (duplicates dropped, order kept): exactly one of the two must be given."""
    if (video_id is None) == (video_ids is None) or not (video_id or video_ids):
        # The argument check refuses this first; kept for callers that bypass it (MCPServer.call_tool).
        raise InvalidInput(
            "get_status needs exactly one of video_id or video_ids",
            fix="Pass video_id for one job, or video_ids (a list) for several, not both.",
        )
    return list(dict.fromkeys([video_id] if video_id else list(video_ids or [])))


def disk_guard(fn: F) -> F:
    """Answer a full disk (an OSError or SQLite's "disk is full", from any layer) as `DiskFull`.

    Without it the SDK would show only "Error executing tool X": a crash, not a fix.
    """

    @functools.wraps(fn)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except SoraError:
            raise
        except Exception as exc:
            if (full := as_disk_full(exc)) is not None:
                raise full from None
            raise

    # functools.wraps keeps fn's name, doc and signature (the SDK reads them); mypy cannot see it is F.
    return guarded  # type: ignore[return-value]


def batch_defaults(
    model: str | None, size: str | None, seconds: str | int | None, augment: bool | None
) -> dict[str, Any]:
    given = {"model": model, "size": size, "seconds": seconds, "augment": augment}
    return {k: v for k, v in given.items() if v is not None}

"""Job-creating requests encoded the way a dialect wants, and POSTed exactly once.

`create_fields` builds a create's fields from the `Dialect` record: size as `size`, resolution +
aspect ratio or width + height; seconds as text or integer under the dialect's field name; an
input reference as an upload, a JSON pointer or a first frame. `post_job` sends it as multipart or
JSON (one JSON retry after a 415, when nothing was created) and reads the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import anyio

from sora_mcp.backends.dialects import Dialect, form_value
from sora_mcp.backends.hosted import frame_image, image_data_url, size_fields
from sora_mcp.backends.known import Known
from sora_mcp.backends.transport import Transport
from sora_mcp.errors import InvalidInput
from sora_mcp.models import RemoteVideo

_MULTIPART = {"Content-Type": "multipart/form-data"}
Files = list[tuple[str, tuple[str, bytes, str]]]


class PreparedReference(Protocol):
    """What `sora_mcp.prompting.prepare_reference` yields (structural, to keep imports one-way)."""

    @property
    def kind(self) -> str: ...
    @property
    def path(self) -> Path | None: ...
    @property
    def filename(self) -> str | None: ...
    @property
    def mime_type(self) -> str | None: ...
    @property
    def image_url(self) -> str | None: ...
    @property
    def file_id(self) -> str | None: ...


async def json_reference(dialect: Dialect, ref: PreparedReference) -> dict[str, Any]:
    """A first-frame image for a JSON-only API (`dialect.reference` says how, or that it takes none):
    an image URL as is, a local file as a data: URL."""
    if dialect.reference == "none" or ref.kind == "file_id":
        what = "a file_id" if dialect.reference != "none" else "an input_reference"
        raise InvalidInput(
            f"This backend ({dialect.label}) cannot take {what} as the first frame",
            fix="Pass a local image path or an https image URL"
            if dialect.reference != "none"
            else "Leave input_reference out, or pass the provider's own image fields in `extra`.",
        )
    if ref.kind == "image_url" and ref.image_url:
        return {"frame_images": frame_image(ref.image_url)}
    if ref.path is None:
        raise InvalidInput(
            "The input_reference has no image", fix="Pass a local image path or an https image URL."
        )
    raw = await anyio.Path(ref.path).read_bytes()
    return {"frame_images": frame_image(image_data_url(raw, ref.mime_type))}


def seconds_value(dialect: Dialect, seconds: str | int) -> str | int:
    return int(seconds) if dialect.seconds_int else str(seconds)


async def create_fields(
    dialect: Dialect,
    *,
    prompt: str,
    model: str | None,
    size: str | None,
    seconds: str | int | None,
    ref: PreparedReference | None,
    labels: Mapping[str, tuple[str, str]] | None,
) -> tuple[dict[str, Any], Files | None]:
    """A create's fields (and an upload, when the reference is a local file)."""
    fields: dict[str, Any] = {
        "prompt": prompt,
        "model": model,
        **size_fields(dialect.size_encoding, size, labels),
    }
    fields[dialect.seconds_field] = None if seconds is None else seconds_value(dialect, seconds)
    if ref is None:
        return fields, None
    if dialect.reference in ("none", "frame_images"):
        fields.update(await json_reference(dialect, ref))
    elif ref.kind == "file" and ref.path is not None:
        data = await anyio.Path(ref.path).read_bytes()
        upload = (ref.filename or "reference", data, ref.mime_type or "application/octet-stream")
        return fields, [("input_reference", upload)]
    else:
        pointer = {"image_url": ref.image_url} if ref.kind == "image_url" else {"file_id": ref.file_id}
        # vLLM-Omni names the JSON-safe reference `image_reference`; the others follow OpenAI.
        if dialect.reference == "image_reference":
            fields["image_reference"] = form_value(pointer)
        else:
            fields["input_reference"] = pointer
    return fields, None


async def post_job(
    transport: Transport,
    known: Known,
    dialect: Dialect,
    path: str,
    fields: dict[str, Any],
    *,
    operation: str,
    extra: Mapping[str, Any] | None,
    idempotency_key: str | None,
    files: Files | None = None,
    encoding: str | None = None,
) -> RemoteVideo:
    """POST a job-creating request once, encoded the way the dialect wants."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    body = {k: v for k, v in fields.items() if v is not None}
    for key, value in (extra or {}).items():
        body.setdefault(key, value)  # provider extras add fields; they never replace ours
    multipart = bool(files) or (encoding or dialect.encoding) == "multipart"
    if multipart:
        # Scalars become form fields; our {id}/{image_url} references keep the SDK's a[b] form.
        form = {k: (v if k in fields and isinstance(v, dict) else form_value(v)) for k, v in body.items()}
        try:
            response = await transport.send(
                "POST",
                path,
                operation=operation,
                creates=True,
                body=form,
                files=files,
                headers={**_MULTIPART, **headers},
            )
        except InvalidInput as exc:
            if not (dialect.json_fallback and not files and "HTTP 415" in exc.message):
                raise
            # 415 means the body was refused unread: nothing was created, JSON is safe to send.
            response = await transport.send(
                "POST", path, operation=operation, creates=True, body=body, headers=headers
            )
    else:
        response = await transport.send(
            "POST", path, operation=operation, creates=True, body=body, headers=headers
        )
    return known.video(response, operation)

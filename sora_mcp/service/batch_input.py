"""Batch input: the lines of a batch, from a list or a JSONL file, each a `BatchSpec`.

Each line is one `BatchSpec` (a prompt, or only structured fields: then `subject`, `action` and
`scene`, whichever are given, become the primary request). In JSONL, blank lines and `#` comments
are skipped, and a line that is not JSON is a plain prompt; a line that starts with `{` but is not
valid JSON, or has unknown keys, is reported with its line number. Per-line values override the
call's defaults. A JSONL file is read only from inside the allowed folders, and only a .jsonl file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from sora_mcp.errors import InvalidInput
from sora_mcp.prompting import AugmentFields
from sora_mcp.prompting.confine import Moved, Outside, open_confined, resolve_inside
from sora_mcp.service.requests import CreateRequest

MAX_JSONL_BYTES = 5 * 1024 * 1024
PRIMARY_FIELDS = ("subject", "action", "scene")


class BatchSpec(AugmentFields):
    """One job of a batch. Give `prompt`, or only structured fields (subject/action/scene at least)."""

    prompt: str | None = Field(default=None, description="What the video should show.")
    model: str | None = Field(
        default=None, description="Model id (default: the call's default, else sora-2)."
    )
    size: str | None = Field(default=None, description="WIDTHxHEIGHT, e.g. 1280x720.")
    seconds: str | int | None = Field(default=None, description="Duration: 4, 8 or 12 for the sora-2 family.")
    input_reference: str | None = Field(
        default=None, description="Optional first-frame image (path/URL/file_id)."
    )
    augment: bool | None = Field(
        default=None, description="Weave the structured fields into the prompt template."
    )
    extra: dict[str, Any] | None = Field(default=None, description="Backend-specific fields passed through.")
    backend: str | None = Field(
        default=None, description="A backend named in the backends file (default: by model)."
    )


def parse_jsonl(text: str) -> list[tuple[int, BatchSpec | str]]:
    """(line number, spec or error message) for every line that is not blank or a `#` comment."""
    out: list[tuple[int, BatchSpec | str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line[0] not in '{["':
            out.append((number, BatchSpec(prompt=line)))
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problem = f"{exc.msg} at column {exc.colno}"
            message = (
                f"line {number}: starts like JSON but is not valid JSON ({problem}); fix it, "
                "or write a plain prompt that does not start with {, [ or a quote"
            )
            out.append((number, message))
            continue
        out.append((number, to_spec(value, f"line {number}")))
    return out


def to_spec(value: Any, where: str) -> BatchSpec | str:
    """A spec from a JSON value (object or string), or an error message naming `where`."""
    if isinstance(value, BatchSpec):
        return value
    if isinstance(value, str):
        value = {"prompt": value}
    if not isinstance(value, dict):
        return f"{where}: expected a JSON object (or a plain prompt), got {type(value).__name__}"
    try:
        spec = BatchSpec.model_validate(value)
    except ValidationError as exc:
        return f"{where}: {_explain(exc)}"
    if not (spec.prompt and spec.prompt.strip()) and not any(getattr(spec, f) for f in PRIMARY_FIELDS):
        return f"{where}: no prompt; give `prompt` (or at least one of subject, action, scene)"
    return spec


def _explain(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors()[:3]:
        name = ".".join(str(p) for p in err["loc"]) or "value"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key '{name}' (allowed: {', '.join(BatchSpec.model_fields)})")
        else:
            problems.append(f"{name}: {err['msg']}")
    return "; ".join(problems)


BATCH_SUFFIXES = (".jsonl", ".ndjson")


def read_jsonl(value: str, roots: list[Path], max_bytes: int = MAX_JSONL_BYTES) -> str:
    """Read a JSONL file confined to the allowed roots (blocking: run in a worker thread)."""
    fix_roots = (
        "Put the file inside an allowed folder (SORA_MCP_ALLOWED_ROOTS, default: the working directory)."
    )

    def refuse(problem: str, fix: str) -> InvalidInput:
        return InvalidInput(f"The batch file '{value}' {problem}", fix=fix)

    try:
        root, resolved = resolve_inside(value, roots)
    except Outside:
        raise refuse("is outside the folders files may come from", fix_roots) from None
    except (OSError, RuntimeError, ValueError):
        raise refuse("could not be resolved", "Pass a plain path to a .jsonl file.") from None
    # Only batch files: any other text file (.env, a key file) would be sent line by line as prompts.
    if resolved.suffix.lower() not in BATCH_SUFFIXES:
        raise refuse(
            "is not a .jsonl file", "Save the batch as a .jsonl (or .ndjson) file: one job per line."
        )
    try:
        # Opened component by component under the root: no folder can be swapped for a link meanwhile.
        fd = open_confined(root, resolved)
    except FileNotFoundError:
        raise refuse(
            "does not exist", "Check the path (relative paths start at the working directory)."
        ) from None
    except (Moved, OSError):
        raise refuse(
            "could not be opened (a symlink, or not readable)", "Pass the real path of the file."
        ) from None
    # Check before fdopen: os.open accepts a directory, but fdopen then raises IsADirectoryError.
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise refuse("is not a regular file", "Pass the path of a .jsonl text file.")
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise refuse(f"is over {max_bytes // 1048576} MB", "Split it into smaller batches.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refuse("is not UTF-8 text", "Save it as UTF-8 JSONL: one job per line.") from None


def request_for(spec: BatchSpec, defaults: BatchSpec) -> CreateRequest:
    """Per-line values override the call's defaults; unset ones fall back to CreateRequest's."""
    merged = {**defaults.model_dump(exclude_none=True), **spec.model_dump(exclude_none=True)}
    field_names = set(AugmentFields.model_fields)
    fields = {k: v for k, v in merged.items() if k in field_names}
    prompt = (merged.get("prompt") or "").strip()
    if not prompt:  # fields only: the primary request is made of subject, action and scene
        prompt = ". ".join(fields.pop(f) for f in PRIMARY_FIELDS if f in fields)
    rest = {k: v for k, v in merged.items() if k not in field_names and k != "prompt"}
    return CreateRequest(prompt=prompt, fields=AugmentFields(**fields), **rest)

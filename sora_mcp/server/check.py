"""Strict tool arguments: compact published schemas, and every call checked against them first.

The SDK builds each tool's input schema from its signature (verbose: titles, `anyOf` with null,
indented docstrings) and then validates calls with a model that silently drops unknown keys and
reports mistakes in pydantic's words. Here the published schema is compacted and closed
(`additionalProperties: false`), and a server middleware (the SDK's public `middleware=` seam,
which runs before the SDK's own validation) checks every `tools/call` against exactly that
schema. A mistake is refused like every other sora-mcp error, as message + fix, naming the
nearest real parameter (`duration` -> `seconds`, `negative_prompt` -> `shot.avoid`) and the
allowed values; nothing is sent, priced or asked.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from mcp.types import CallToolResult, TextContent

from sora_mcp.errors import InvalidInput

# Keys an agent commonly reaches for, and the real parameter they mean. "shot.x" targets a field
# of the `shot` object; a target the tool lacks is skipped (then the closest spelling is offered).
ALIASES: dict[str, tuple[str, ...]] = {
    "seconds": ("duration", "length", "secs", "time", "duration_seconds", "video_length", "n_seconds"),
    "size": (
        "resolution",
        "aspect_ratio",
        "aspect",
        "ratio",
        "dimensions",
        "width",
        "height",
        "orientation",
        "format",
    ),
    "shot.avoid": ("negative_prompt", "negative", "exclude", "avoid"),
    "shot.palette": ("colour", "color", "colors", "colours", "color_palette", "colour_palette", "palette"),
    "input_reference": (
        "image",
        "image_url",
        "image_path",
        "reference_image",
        "reference",
        "first_frame",
        "init_image",
        "start_image",
    ),
    "video_id": ("id", "job_id", "video", "source_id", "source_video_id", "remix_id"),
    "video_ids": ("ids", "job_ids", "videos"),
    "wait_seconds": ("wait", "timeout", "wait_time", "timeout_seconds", "poll_seconds"),
    "destination": (
        "path",
        "out",
        "output",
        "dest",
        "output_path",
        "save_to",
        "save_as",
        "folder",
        "directory",
    ),
    "variant": ("type", "kind", "asset", "file_type"),
    "text": ("query", "search", "prompt_contains", "q"),
    "created_since": ("since", "after_time", "from"),
    "prompt": ("text_prompt", "description", "instructions", "instruction"),
}
_ALIAS_OF = {alias: target for target, names in ALIASES.items() for alias in names}

SizeHint = Callable[[Mapping[str, Any]], str]


# ---- published schemas ----------------------------------------------------------------------


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema without titles, `$defs` indirection or `anyOf [X, null]` for optional values."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        out = {k: walk(v) for k, v in node.items() if k not in ("title", "$defs")}
        if "anyOf" in out:
            arms = [a for a in out["anyOf"] if a != {"type": "null"}]
            if len(arms) == 1:
                out.pop("anyOf")
                out = {**arms[0], **out}
            elif all(set(a) == {"type"} for a in arms):
                out.pop("anyOf")
                out["type"] = [a["type"] for a in arms]
            else:
                out["anyOf"] = arms
        if out.get("default", 0) is None:
            out.pop("default")
        return out

    return walk(schema)


def close_schema(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Mark the schema strict (no other keys) and add top-level rules such as `oneOf`."""
    return {**schema, "additionalProperties": False, **extra}


# ---- the check ------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed(props: Mapping[str, Any]) -> str:
    return ", ".join(props)


def _suggest(
    key: str,
    props: Mapping[str, Any],
    tool: str,
    args: Mapping[str, Any],
    size_hint: SizeHint,
    *,
    prefix: str = "",
) -> str:
    """What to write instead of the unknown `key`."""
    shot = props.get("shot", {}).get("propertyNames", {}).get("enum", [])
    target = _ALIAS_OF.get(key.lower())
    if prefix == "" and target is None and key in shot:
        target = f"shot.{key}"
    if tool == "remix_video" and key in {"seconds", "size", "model", *ALIASES["seconds"], *ALIASES["size"]}:
        return (
            "a remix keeps the source's model, size and duration: use extend_video to make it longer, "
            "or create_video for another size or model"
        )
    if target is not None and prefix and target.startswith(prefix) and target.removeprefix(prefix) in props:
        return f"use {target}"  # inside an object: its own field (shot.colour -> shot.palette)
    if target is not None:
        name = target.removeprefix("shot.")
        if target.startswith("shot.") and name in shot:
            return f'put it in shot as shot.{name} (e.g. "shot": {{"{name}": ...}})'
        if not target.startswith("shot.") and target in props and target != key:
            if target == "size":
                return f"use size (WIDTHxHEIGHT): {size_hint(args)}"
            return f"use {target}"
    close = difflib.get_close_matches(key, list(props), n=1, cutoff=0.6)
    if close:
        return f"did you mean {prefix}{close[0]}?"
    return f"the arguments are: {_allowed(props)}"


def _where(error: SchemaError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "the arguments"


def _explain(
    error: SchemaError,
    tool: str,
    schema: Mapping[str, Any],
    args: Mapping[str, Any],
    size_hint: SizeHint,
    max_wait: float,
) -> InvalidInput:
    """One schema violation as a sora-mcp error (message + fix), never the validator's own text."""
    # Typed `Any | Unset` (a bare ValidationError has neither); an error from `iter_errors` has both.
    instance: Any = error.instance
    rule: Any = error.validator_value
    where, kind = _where(error), error.validator
    sub = error.schema if isinstance(error.schema, dict) else {}
    if "propertyNames" in error.schema_path:  # a key of a names-only object (e.g. shot) is unknown
        names = dict.fromkeys(rule) if isinstance(rule, list) else {}
        key = str(instance)
        hint = _suggest(key, names, tool, args, size_hint, prefix=f"{where}.")
        return InvalidInput(
            f"{tool} has no argument '{where}.{key}'; nothing was sent",
            fix=f"Instead: {where}.{key}: {hint} ({where} takes: {', '.join(names)}).",
        )
    if kind == "additionalProperties":
        props = sub.get("properties", {})
        unknown = [k for k in instance if k not in props]
        prefix = f"{where}." if error.absolute_path else ""
        hints = "; ".join(
            f"{prefix}{k}: {_suggest(k, props, tool, args, size_hint, prefix=prefix)}" for k in unknown
        )
        listed = ", ".join(f"'{prefix}{k}'" for k in unknown)
        return InvalidInput(f"{tool} has no argument {listed}; nothing was sent", fix=f"Instead: {hints}.")
    if kind == "required":
        missing = [k for k in rule if k not in instance]
        desc = schema.get("properties", {}).get(missing[0], {}).get("description", "") if missing else ""
        return InvalidInput(
            f"{tool} needs {', '.join(missing)}", fix=f"Pass {missing[0]}: {desc}".rstrip(": ")
        )
    if kind == "oneOf" and not error.absolute_path and tool == "get_status":
        return InvalidInput(
            "get_status needs exactly one of video_id or video_ids",
            fix="Pass video_id for one job, or video_ids (a list) for several, not both.",
        )
    if kind == "enum":
        return InvalidInput(
            f"{where} cannot be {_shown(instance)}",
            fix=f"Pass one of: {', '.join(str(v) for v in rule)}.",
        )
    if kind in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
        word = "at most" if "aximum" in kind else "at least"
        fix = f"Pass {where} {word} {rule:g}."
        if where == "wait_seconds" and "aximum" in kind:
            fix = (
                f"Pass wait_seconds={max_wait:g} or less and call get_status again with the same wait until "
                "all_done (the jobs keep running); SORA_MCP_MAX_WAIT_S raises the limit for clients that "
                "allow longer calls."
            )
        return InvalidInput(f"{where} is {_shown(instance)}, which is not {word} {rule:g}", fix=fix)
    if kind in ("maxItems", "minItems", "maxLength", "minLength"):
        word = "at most" if kind.startswith("max") else "at least"
        unit = "items" if kind.endswith("Items") else "characters"
        return InvalidInput(
            f"{where} has {word.replace('at most', 'more than').replace('at least', 'fewer than')} "
            f"{rule} {unit}",
            fix=f"Pass {word} {rule} {unit}.",
        )
    if kind == "type":
        want = " or ".join(rule) if isinstance(rule, list) else rule
        article = "an" if str(want)[0] in "aeiou" else "a"
        desc = sub.get("description", "")
        return InvalidInput(
            f"{where} must be {article} {want} (got {_shown(instance)})",
            fix=f"Pass {where} as {article} {want}. {desc}".strip(),
        )
    return InvalidInput(
        f"{where} is not valid ({kind})", fix=sub.get("description") or "See the tool's schema."
    )


def _prepare(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """What the SDK would accept too: nulls for optional values dropped, JSON text for objects/lists
    parsed (some clients send `"[\\"a\\"]"`), numeric text for numbers read as numbers."""
    props, required = schema.get("properties", {}), set(schema.get("required", ()))
    out: dict[str, Any] = {}
    for key, value in arguments.items():
        if value is None and key not in required:
            continue
        types = props.get(key, {}).get("type")
        types = set(types) if isinstance(types, list) else {types}
        if isinstance(value, str) and "string" not in types:
            if types & {"object", "array"}:
                try:
                    parsed = json.loads(value)
                    value = parsed if isinstance(parsed, dict | list) else value
                except ValueError:
                    pass
            elif types & {"number", "integer"}:
                try:
                    number = float(value.strip())
                    value = int(number) if "integer" in types and number.is_integer() else number
                except ValueError:
                    pass
        out[key] = value
    return out


class ArgumentCheck:
    """Server middleware: refuse a `tools/call` whose arguments break the tool's closed schema."""

    def __init__(
        self, schemas: Mapping[str, dict[str, Any]], *, size_hint: SizeHint, max_wait: Callable[[], float]
    ) -> None:
        self._validators = {
            name: Draft202012Validator(s)
            for name, s in schemas.items()
            if s.get("additionalProperties") is False
        }
        self._schemas = dict(schemas)
        self._size_hint, self._max_wait = size_hint, max_wait

    def check(self, tool: str, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
        """The arguments as the tool should receive them; raises InvalidInput when they break the schema."""
        validator = self._validators.get(tool)
        if validator is None:
            return dict(arguments or {})
        if arguments is not None and not isinstance(arguments, Mapping):
            raise InvalidInput(
                "The arguments must be a JSON object", fix='Pass named arguments, e.g. {"prompt": ...}.'
            )
        schema = self._schemas[tool]
        args = _prepare(arguments or {}, schema)
        errors = sorted(validator.iter_errors(args), key=_priority)
        if errors:
            raise _explain(errors[0], tool, schema, args, self._size_hint, self._max_wait())
        return args

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method != "tools/call" or not isinstance(ctx.params, Mapping):
            return await call_next(ctx)
        name = ctx.params.get("name")
        try:
            args = self.check(str(name), ctx.params.get("arguments"))
        except InvalidInput as exc:
            text = f"Error executing tool {name}: {exc}"
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        if name in self._validators:
            import dataclasses

            ctx = dataclasses.replace(ctx, params={**ctx.params, "arguments": args})
        return await call_next(ctx)


def _priority(error: SchemaError) -> tuple[int, int]:
    # Unknown keys first (the likeliest cause of everything else), then missing ones, then values.
    order = {"additionalProperties": 0, "required": 1, "oneOf": 2}
    rank = 0 if "propertyNames" in error.schema_path else order.get(str(error.validator), 3)
    return rank, len(error.absolute_path)

"""Prompting layer: prompt template and augmentation, model catalog (sizes, durations, prices),
content guardrails and input-reference preparation. Everything here runs before any network call."""

from sora_mcp.prompting.catalog import Catalog, Kind
from sora_mcp.prompting.guardrails import RULES, check_faces, check_prompt, faces_available
from sora_mcp.prompting.model_spec import (
    Feature,
    ModelSpec,
    Supports,
    ValidatedRequest,
    normalise_seconds,
    normalise_size,
)
from sora_mcp.prompting.reference import MAX_BYTES, PreparedReference, prepare_reference
from sora_mcp.prompting.reference_image import MAX_PIXELS
from sora_mcp.prompting.template import (
    PROMPT_ARGS,
    PROMPT_FILES,
    PROMPT_MAX,
    TEMPLATE_LABELS,
    AugmentFields,
    PromptArg,
    augment,
    check_prompt_length,
    content_text,
    is_structured,
    prompt_placeholders,
    render_prompt,
    strip_controls,
)

__all__ = [
    "MAX_BYTES",
    "MAX_PIXELS",
    "PROMPT_ARGS",
    "PROMPT_FILES",
    "PROMPT_MAX",
    "RULES",
    "TEMPLATE_LABELS",
    "AugmentFields",
    "Catalog",
    "Feature",
    "Kind",
    "ModelSpec",
    "PreparedReference",
    "PromptArg",
    "Supports",
    "ValidatedRequest",
    "augment",
    "check_faces",
    "check_prompt",
    "check_prompt_length",
    "content_text",
    "faces_available",
    "is_structured",
    "normalise_seconds",
    "normalise_size",
    "prepare_reference",
    "prompt_placeholders",
    "render_prompt",
    "strip_controls",
]

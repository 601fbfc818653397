"""The MCP prompts: ready-made requests that fill the structured template.

Their arguments and text are declared once in the prompting layer (`PROMPT_ARGS`, the
markdown files in `content/`); this module only exposes them to MCP clients.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from mcp.server import MCPServer
from pydantic import Field

from sora_mcp.prompting import PROMPT_ARGS, render_prompt
from sora_mcp.server.signature import with_signature

# MCP prompt name -> (template name, title, description)
PROMPTS: dict[str, tuple[str, str, str]] = {
    "cinematic_shot": (
        "cinematic_shot",
        "A cinematic shot",
        "Write one cinematic shot as a structured prompt, then create it with create_video.",
    ),
    "social_ad": (
        "social_ad",
        "A social ad in beats",
        "Plan a short social ad beat by beat as a structured prompt, then create it.",
    ),
    "remix_invariants": (
        "remix",
        "A remix that states its invariants",
        "Remix a video changing only one thing, saying explicitly what stays the same.",
    ),
}


def _prompt_fn(template: str) -> Any:
    def fn(**values: Any) -> str:
        return render_prompt(template, values)

    params = []
    for arg in PROMPT_ARGS[template]:
        annotation = (
            Annotated[str, Field(description=arg.description)]
            if arg.required
            else Annotated[str | None, Field(description=arg.description)]
        )
        default = inspect.Parameter.empty if arg.required else None
        params.append(
            inspect.Parameter(
                arg.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
    return with_signature(fn, params, str)


def register_prompts(mcp: MCPServer) -> None:
    for name, (template, title, description) in PROMPTS.items():
        mcp.prompt(name=name, title=title, description=description)(_prompt_fn(template))

"""Every hostile value tried in every tool argument that takes a file path (test_paths and the long
run's "Hostile paths" section share it)."""

from __future__ import annotations

from typing import Any

import anyio

from tests.hardening.runs.common import input_forms, leaks, text_of

# Only an image argument must refuse these: for a text-file argument (create_batch's jsonl_path) a
# text file inside the allowed folders is legitimate input (each line becomes a prompt), so it is
# not tried there.
IMAGE_ONLY = {"a text file renamed .png", "an empty file"}


def path_arguments(tools: list[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(tool, argument, base args) for every argument that takes a file path (create_batch's too)."""
    out = []
    for tool in tools:
        props = tool.input_schema.get("properties", {})
        for name in props:
            if name == "input_reference" or "path" in name:
                base = {k: "A calm lake at dawn" for k in tool.input_schema.get("required", []) if k != name}
                if "size" in props:
                    base["size"] = "1280x720"
                out.append((tool.name, name, base))
    return out


async def refuse_all(s: Any, cases: list[tuple[str, str]]) -> tuple[int, list[str]]:
    """Try every hostile value in every path argument; returns (tries, problems)."""
    problems: list[str] = []
    tries = 0
    for tool, arg, base in path_arguments((await s.client.list_tools()).tools):
        for label, value in cases:
            if arg != "input_reference" and label in IMAGE_ONLY:
                continue
            tries += 1
            with anyio.fail_after(30):
                result = await s.client.call_tool(tool, {**base, arg: value})
            text = text_of(result)
            if not result.is_error:
                problems.append(f"{tool}.{arg} accepted {label}")
            elif "Error executing tool" in text and ":" not in text:
                problems.append(f"{tool}.{arg} masked error for {label}")
            problems += [
                f"{tool}.{arg} {label}: {x}"
                for x in leaks(
                    text, data_dir=s.settings.data_dir, echoed=input_forms(value), shared=s.settings.roots()
                )
            ]
    return tries, problems

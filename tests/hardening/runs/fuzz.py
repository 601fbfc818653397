"""Hypothesis strategies for tool arguments, and the driver that fires them at a live server.

Arguments are built from each tool's own input schema (so a tool added later, such as
create_batch, is fuzzed too): every property gets either a plausible value (deep paths run:
real jobs, valid sizes) or hostile garbage (wrong types, huge and unicode strings, control
characters, nested junk, path-like strings); keys are dropped or invented at random.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hardening.runs.common import Tally

CALL_TIMEOUT_S = 60.0

HOSTILE_PATHS = [
    "../../../../etc/passwd",
    "/etc/shadow",
    "~/.ssh/id_rsa",
    "/root/.ssh/id_rsa",
    "/proc/self/environ",
    "/dev/zero",
    "/dev/random",
    "/tmp",
    "..",
    ".",
    "",
    " ",
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\x.png",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data",
    "https://",
    "data:image/png;base64,AAAA",
    "data:text/html;base64,PHNjcmlwdD4=",
    "file-",
    "file-../../x",
    "%2e%2e/%2e%2e/etc/passwd",
    "inputs/../../x.png",
    "x.png\x00.txt",
    "/" * 300,
    "a/" * 2000,
    "\u202e\u0067\u006e\u0070.exe",
    "CON",
    "nul.png",
]
IDS = [
    "video_",
    "video_0000",
    "../../ledger.sqlite3",
    "video_%00",
    "' OR 1=1 --",
    "*",
    "video_\u00e9\u00e8",
    "x" * 600,
    "\t",
    "video_abc/../../..",
    "null",
    "-1",
]

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
)
_unicode = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
_control = st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=20)
_huge = st.sampled_from([33_000, 100_000, 1_000_000]).map(
    lambda n: "\U0001f3ac" * (n // 4) + "A" * (n - n // 4)
)
_path_like = st.sampled_from(HOSTILE_PATHS) | st.lists(
    st.sampled_from(
        ["..", "etc", "passwd", "~", "root", ".ssh", "%2e%2e", "..\\", "x.png", "\x00", "inputs"]
    ),
    min_size=1,
    max_size=12,
).map("/".join).map(lambda p: st_prefix(p))
_strings = _unicode | _control | _huge | _path_like | st.sampled_from(IDS)
_garbage = st.recursive(
    _scalars | _strings,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_unicode.filter(bool), inner, max_size=4),
    max_leaves=12,
)


def st_prefix(path: str) -> str:
    return path if len(path) % 2 else "/" + path


def _plausible(name: str, prop: dict[str, Any], ids: list[str]) -> st.SearchStrategy[Any]:
    """A value that passes the schema (and often validation), so the call reaches the backend."""
    if "enum" in prop:
        return st.sampled_from(prop["enum"])
    for alt in prop.get("anyOf", []):
        if "enum" in alt:
            return st.sampled_from(alt["enum"])
    if name in ("video_id",):
        return st.sampled_from(ids or IDS)
    if name == "video_ids":
        return st.lists(st.sampled_from(ids or IDS), max_size=3)
    if name == "prompt":
        return st.sampled_from(["A red kite over a beach", "A paper boat in the rain", "Dusk over a city"])
    if name == "size":
        return st.sampled_from(["1280x720", "720x1280", "1x1", "99999x99999", "1280X720"])
    if name == "seconds":
        return st.sampled_from([4, "8", 12, 0, -4, "4.5", 10**9])
    if name == "model":
        return st.sampled_from(["sora-2", "sora-2-pro", "no-such-model"])
    if name == "wait_seconds":
        return st.sampled_from([0, 0.01, 0.2, -1, math.inf, math.nan])
    if name in ("input_reference", "jsonl_path") or "path" in name:
        return _path_like
    if name == "dry_run":
        return st.booleans()
    kinds = {
        "string": _unicode,
        "integer": st.integers(-5, 200),
        "number": st.floats(-1, 10),
        "boolean": st.booleans(),
        "array": st.lists(_unicode, max_size=3),
        "object": st.dictionaries(_unicode.filter(bool), _scalars, max_size=3),
    }
    types = [prop.get("type")] + [a.get("type") for a in prop.get("anyOf", [])]
    choices = [kinds[t] for t in types if t in kinds]
    return st.one_of(choices) if choices else _garbage


@st.composite
def tool_args(draw: Callable[..., Any], schema: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    args: dict[str, Any] = {}
    for name, prop in props.items():
        # Required arguments are usually present; optional ones now and then.
        present = draw(st.integers(0, 9)) < (9 if name in required else 3)
        if not present:
            continue
        hostile = draw(st.integers(0, 9)) < 4
        args[name] = draw(_garbage if hostile else _plausible(name, prop, ids))
    if draw(st.integers(0, 19)) == 0:
        args[draw(_unicode.filter(bool))] = draw(_garbage)
    # Keep creates cheap: most plausible creates are dry runs.
    if "dry_run" in props and "dry_run" not in args and draw(st.integers(0, 3)) > 0:
        args["dry_run"] = True
    return args


async def call(client: Any, tool: str, args: dict[str, Any], tally: Tally, data_dir: Path) -> Any:
    """One call under a time limit; a hang is recorded, never waited out."""
    try:
        with anyio.fail_after(CALL_TIMEOUT_S):
            result = await client.call_tool(tool, args)
    except TimeoutError:
        tally.calls += 1
        tally.hung.append(f"{tool}: no answer within {CALL_TIMEOUT_S:.0f}s")
        return None
    tally.add(tool, args, result, data_dir)
    return result


def run_fuzz(
    portal: Any,
    client: Any,
    tools: list[Any],
    ids: list[str],
    data_dir: Path,
    tally: Tally,
    *,
    examples: int,
    seed: int | None = None,
) -> None:
    """Fire `examples` hypothesis-generated calls (spread over every tool) from a blocking portal."""
    names = [t.name for t in tools]
    schemas = {t.name: t.input_schema for t in tools}
    pick = st.sampled_from(names).flatmap(lambda n: st.tuples(st.just(n), tool_args(schemas[n], ids)))

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        phases=["generate"],
    )
    @given(pick)
    def one(case: tuple[str, dict[str, Any]]) -> None:
        tool, args = case
        portal.call(call, client, tool, args, tally, data_dir)

    if seed is not None:
        from hypothesis import seed as hseed

        one = hseed(seed)(one)
    one()

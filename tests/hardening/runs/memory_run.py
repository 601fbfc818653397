"""The long run's "Memory budgets" section: hostile inputs and answers against `sora-mcp serve`.

`sora-mcp serve` runs as a subprocess on stdio (as MCP clients start it), driven by the official
Client, against a hostile backend on 127.0.0.1 (tests/bounds/hostile.py). Measured: the server's
peak RSS (VmHWM) through 20 concurrent creates with a 16-bit 6320x6320 PNG and a 400 MB JSON
answer; an endless download stopped at the asset cap leaving nothing; a 1-byte-per-3-s drip ended
at the request deadline. Bounded: at most ~25 tool calls, every call under a time limit.

Run alone: `python -m tests.hardening.runs.memory_run` (prints the figures, writes nothing).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.bounds.conftest import SECRET_KEY, child_servers, make_settings, peak_rss_mb, serve_env, text_of
from tests.bounds.hostile import hostile
from tests.bounds.images import png16
from tests.hardening.runs.common import input_forms, leaks

PNG_PEAK_LIMIT_MB = 650  # as tests/bounds/test_memory.py states
JSON_PEAK_RISE_LIMIT_MB = 64
ASSET_CAP_MB = 8
DRIP_TIMEOUT_S = 7.0


def _params(settings, **env: str) -> StdioServerParameters:  # type: ignore[no-untyped-def]
    return StdioServerParameters(
        command=sys.executable, args=["-m", "sora_mcp", "serve"], env=serve_env(settings, **env)
    )


async def run(root: Path, *, quick: bool = False) -> tuple[str, list[str]]:
    """(figure, problems) for the section."""
    problems: list[str] = []
    leaked: list[str] = []
    creates = 6 if quick else 20
    side = 3160 if quick else 6320
    backend = hostile()
    try:
        settings = make_settings(root, backend.base_url, request_timeout_s=DRIP_TIMEOUT_S)
        image = png16(root / "inputs" / "deep.png", side, side)
        async with Client(
            _params(settings, SORA_MCP_MAX_ASSET_MB=str(ASSET_CAP_MB)), mode="legacy"
        ) as session:
            [pid] = child_servers()

            class Checked:
                """The client, with every answer scanned for the key, tracebacks and host paths."""

                async def call_tool(self, name: str, args: dict) -> object:  # type: ignore[type-arg]
                    result = await session.call_tool(name, args)
                    leaked.extend(
                        f"{name}: {x}"
                        for x in leaks(
                            text_of(result),
                            data_dir=settings.data_dir,
                            echoed=input_forms(args),
                            secret=SECRET_KEY,
                        )
                    )
                    return result

            client = Checked()
            start_mb = peak_rss_mb(pid)

            # 1. N concurrent creates, each with the 16-bit PNG.
            failed: list[str] = []

            async def one() -> None:
                result = await client.call_tool(
                    "create_video", {"prompt": "A calm lake", "input_reference": str(image)}
                )
                if result.is_error:
                    failed.append(text_of(result)[:200])

            t0 = time.monotonic()
            with anyio.fail_after(900):
                async with anyio.create_task_group() as tg:
                    for _ in range(creates):
                        tg.start_soon(one)
            png_s = time.monotonic() - t0
            png_peak = peak_rss_mb(pid)
            problems += [f"create with the 16-bit PNG failed: {f}" for f in failed]
            if png_peak >= PNG_PEAK_LIMIT_MB:
                problems.append(
                    f"16-bit PNG x{creates}: peak RSS {png_peak:.0f} MB >= {PNG_PEAK_LIMIT_MB} MB"
                )

            # 2. A 400 MB JSON answer to get_status.
            result = await client.call_tool("create_video", {"prompt": "A calm lake"})
            video_id = result.structured_content["id"]
            backend.knobs.retrieve = "huge"
            with anyio.fail_after(120):
                result = await client.call_tool("get_status", {"video_id": video_id})
            json_peak = peak_rss_mb(pid)
            sent_json_mb = backend.sent_bytes / 1048576
            if not (result.is_error and "larger than 16 MB" in text_of(result)):
                problems.append(f"400 MB answer: {text_of(result)[:200]}")
            if json_peak - png_peak > JSON_PEAK_RISE_LIMIT_MB:
                problems.append(f"400 MB answer raised the peak by {json_peak - png_peak:.0f} MB")

            # 3. An endless chunked download.
            backend.knobs.retrieve, backend.knobs.content, backend.sent_bytes = "normal", "endless", 0
            with anyio.fail_after(120):
                result = await client.call_tool("download_asset", {"video_id": video_id})
            left = [
                p
                for d in (settings.library_dir, settings.tmp_dir)
                if d.exists()
                for p in d.rglob("*")
                if p.is_file()
            ]
            sent_dl_mb = backend.sent_bytes / 1048576
            if not (result.is_error and f"past the {ASSET_CAP_MB} MB limit" in text_of(result)):
                problems.append(f"endless download: {text_of(result)[:200]}")
            if left:
                problems.append(f"endless download left files: {[p.name for p in left]}")

            # 4. A drip of 1 byte every 3 s.
            backend.knobs.retrieve = "drip"
            t0 = time.monotonic()
            with anyio.fail_after(60):
                result = await client.call_tool("get_status", {"video_id": video_id})
            drip_s = time.monotonic() - t0
            if not (result.is_error and DRIP_TIMEOUT_S - 0.5 <= drip_s <= DRIP_TIMEOUT_S + 5):
                problems.append(f"drip ended after {drip_s:.1f} s: {text_of(result)[:200]}")
            final_peak = peak_rss_mb(pid)
    finally:
        backend.stop()
    problems += leaked
    figure = (
        f"{creates} concurrent creates with a 16-bit {side}x{side} PNG in {png_s:.0f} s: server peak RSS "
        f"{png_peak:.0f} MB (at start {start_mb:.0f} MB; limit {PNG_PEAK_LIMIT_MB} MB); a 400 MB JSON "
        f"answer refused at 16 MB after the backend wrote {sent_json_mb:.0f} MB, peak then {json_peak:.0f} MB; "
        f"an endless download stopped at the {ASSET_CAP_MB} MB cap ({sent_dl_mb:.0f} MB sent), {len(left)} "
        f"files left; a 1-byte-per-3-s drip ended after {drip_s:.1f} s (deadline {DRIP_TIMEOUT_S:g} s); "
        f"final peak {final_peak:.0f} MB; {len(problems) - len(leaked)} lost, {len(leaked)} leaked"
    )
    return figure, problems


def main() -> int:
    quick = "--quick" in sys.argv
    with tempfile.TemporaryDirectory(prefix="sora-memory-") as tmp:
        figure, problems = anyio.run(lambda: run(Path(tmp), quick=quick))
    print(f"- **Memory budgets**: {figure}")
    for p in problems:
        print("    PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())

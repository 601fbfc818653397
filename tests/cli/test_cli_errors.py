"""Mistakes and time-outs: usage errors exit 2, refusals print `Error: ...` and exit 1, a
--timeout exits 3 saying how to resume — never a traceback (the `Cli` helper asserts that)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import API_KEY, Cli


@pytest.mark.parametrize(
    "argv",
    [
        ["create"],  # no prompt
        ["create", "--prompt", "a", "--prompt-file", "p.txt"],  # both
        ["create", "--prompt-file", "missing.txt"],
        ["create", "--prompt", "   "],
        ["poll", "--id", "video_x", "--timeout", "-1"],
        ["list", "--limit", "0"],
        ["download", "--id", "video_x", "--variant", "gif"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(cli: Cli, argv: list[str]) -> None:
    result = cli(*argv)

    assert result.code == 2, result.stderr
    assert result.stdout == ""
    assert "error" in result.stderr.lower()


@pytest.mark.parametrize(
    "argv, words",
    [
        (["status", "--id", "video_nope"], "sora-mcp list"),
        (["create", "--prompt", "a fox", "--seconds", "5"], "4, 8, 12"),
        (["create", "--prompt", "a fox", "--input-reference", "/etc/passwd"], "input"),
        (["download", "--id", "video_nope"], "video_nope"),
    ],
)
def test_refusals_print_error_and_exit_1(cli: Cli, argv: list[str], words: str) -> None:
    result = cli(*argv)

    assert result.code == 1
    assert result.stderr.startswith("Error: ") and words in result.stderr
    assert result.stdout == ""


def test_bad_configuration_is_an_error_not_a_traceback(cli: Cli) -> None:
    cli.env["SORA_MCP_REQUEST_TIMEOUT_S"] = "soon"

    result = cli("list", "--json")

    assert result.code == 1 and "SORA_MCP_REQUEST_TIMEOUT_S" in result.stderr


def test_timeout_exits_3_and_says_how_to_resume(engine_factory, tmp_path: Path) -> None:
    # ~0.8 s per frame: the render outlasts the 1 s timeout, and stopping aborts it at the next frame.
    slow = engine_factory(api_key=API_KEY, render_slowdown=20)
    cli = Cli(tmp_path, slow.base_url)

    result = cli(
        "create-and-poll",
        "--prompt",
        "A glacier calving",
        "--timeout",
        "1",
        "--download",
        "--out",
        "glacier.mp4",
    )

    assert result.code == 3
    job = result.json()
    assert job["status"] in ("queued", "in_progress")
    assert f"sora-mcp poll --id {job['id']} --download --out glacier.mp4" in result.stderr
    assert "timed out" in result.stderr and not (tmp_path / "glacier.mp4").exists()

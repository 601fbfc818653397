"""The stdio transport (the SDK's, as `sora-mcp serve` runs it): real subprocesses on real pipes and files.

The journey over stdio (test_journey.py) covers the tools; these cover what a user of the
transport relies on: a protected wire (stray output from any library goes to stderr), bad lines
survived, several-megabyte messages, a clean exit at end of input, the pipe's flags given back,
and stdin from a file.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.server.conftest import server_env

pytestmark = pytest.mark.anyio

# A tiny MCPServer served the way `sora-mcp serve` serves (run_stdio_async) whose tool writes to
# stdout in every way a library might.
NOISY = textwrap.dedent(
    """
    import os, sys
    import anyio
    from mcp.server import MCPServer

    mcp = MCPServer(name="noisy")

    @mcp.tool()
    def noisy() -> str:
        print("stray print")
        sys.stdout.flush()
        os.write(1, b"stray bytes on fd 1\\n")
        return "ok"

    anyio.run(mcp.run_stdio_async)
    """
)

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
LINES = [
    json.dumps(INIT),
    "this line is not JSON",
    json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
]


@pytest.fixture
def noisy_script(tmp_path: Path) -> Path:
    script = tmp_path / "noisy.py"
    script.write_text(NOISY)
    return script


CALL = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "noisy", "arguments": {}}}


def test_stray_output_never_reaches_the_wire(noisy_script: Path) -> None:
    proc = _spawn([str(noisy_script)])
    try:
        answers = _converse(proc, [*LINES, json.dumps(CALL)], {1, 2, 3})  # every wire line is JSON-RPC
    finally:
        proc.kill()
        proc.wait()
        err = proc.stderr.read()
    assert answers[3]["result"]["structuredContent"] == {"result": "ok"}
    assert b"stray print" in err and b"stray bytes on fd 1" in err


async def test_the_official_client_over_stdio_in_both_modes(noisy_script: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=[str(noisy_script)], env=dict(os.environ))
    for mode in ("legacy", "auto"):
        async with Client(params, mode=mode) as client:
            for _ in range(3):
                result = await client.call_tool("noisy", {})
                assert result.structured_content == {"result": "ok"}


def _converse(proc: subprocess.Popen, lines: list[str], ids: set[int]) -> dict[int, dict]:
    """Send `lines`, read the wire until every id in `ids` is answered, then close stdin (the
    client's way to end a stdio session) and wait for the exit. Every line on the wire must be
    a JSON-RPC message."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n".join(lines).encode() + b"\n")
    proc.stdin.flush()
    answers: dict[int, dict] = {}
    while not ids <= answers.keys():
        line = proc.stdout.readline()
        assert line, "the server closed stdout before answering"
        message = json.loads(line)
        assert message.get("jsonrpc") == "2.0", message
        if "id" in message:
            answers[message["id"]] = message
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    return answers


def _spawn(
    args: list[str], stdin: object = subprocess.PIPE, env: dict[str, str] | None = None
) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


def test_bad_lines_are_survived_and_end_of_input_ends_the_server(settings) -> None:
    proc = _spawn(["-m", "sora_mcp", "serve"], env=server_env(settings))
    try:
        answers = _converse(proc, LINES, {1, 2})
    finally:
        proc.kill()
        proc.wait()
        err = proc.stderr.read().decode()
    assert answers[1]["result"]["serverInfo"]["name"] == "sora-mcp"
    assert "get_status" in {t["name"] for t in answers[2]["result"]["tools"]}
    assert "Traceback" not in err


def test_a_message_of_several_megabytes_is_one_line_like_any_other(noisy_script: Path) -> None:
    big = {
        "jsonrpc": "2.0",
        "id": 4,
        "method": "tools/call",
        "params": {"name": "noisy", "arguments": {}, "_meta": {"padding": "x" * (6 << 20)}},
    }
    proc = _spawn([str(noisy_script)])
    try:
        answers = _converse(proc, [*LINES, json.dumps(big), json.dumps(CALL)], {1, 2, 3, 4})
    finally:
        proc.kill()
        proc.wait()
    assert answers[4]["result"]["structuredContent"] == {"result": "ok"}
    assert answers[3]["result"]["structuredContent"] == {"result": "ok"}


def test_the_pipe_flags_are_given_back(noisy_script: Path) -> None:
    # the child's stdin is the same open pipe as read_end here, so a flag it leaves set shows here
    read_end, write_end = os.pipe()
    proc = _spawn([str(noisy_script)], stdin=read_end)
    try:
        with os.fdopen(write_end, "wb") as pipe:
            proc.stdin = pipe  # type: ignore[assignment]
            assert set(_converse(proc, LINES, {1, 2})) == {1, 2}
        assert not fcntl.fcntl(read_end, fcntl.F_GETFL) & os.O_NONBLOCK
    finally:
        proc.kill()
        proc.wait()
        os.close(read_end)


def test_stdin_from_a_file_is_served_and_the_wire_stays_clean(noisy_script: Path, tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text("\n".join([*LINES, json.dumps(CALL)]) + "\n")
    # with a file on stdin the input ends at once, and the session with it (in-flight requests
    # may go unanswered): the first answer and a clean wire are what this checks
    with requests.open("rb") as stdin:
        proc = subprocess.run(
            [sys.executable, str(noisy_script)], stdin=stdin, capture_output=True, timeout=60, check=False
        )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert json.loads(proc.stdout.splitlines()[0])["id"] == 1
    assert b"stray" not in proc.stdout

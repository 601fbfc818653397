"""create / create-and-poll from a terminal: real MP4s, --dry-run sending nothing, prompt flags."""

from __future__ import annotations

import json
from pathlib import Path

from sora_mcp.engine import EngineServer
from tests.cli.conftest import Cli, decode_mp4

README_FIRST = [
    "create-and-poll",
    "--prompt",
    "A paper boat drifting down a rainy street at dusk",
    "--camera",
    "slow push-in",
    "--palette",
    "teal and amber",
    "--download",
    "--out",
    "out/first.mp4",
]


def test_readme_first_command_on_the_default_embedded_engine(tmp_path: Path) -> None:
    cli = Cli(tmp_path, base_url=None)  # no SORA_MCP_BASE_URL: the service starts its own engine

    result = cli(*README_FIRST)

    assert result.code == 0, result.stderr
    out = tmp_path / "out" / "first.mp4"
    assert decode_mp4(out)[:2] == (1280, 720) and decode_mp4(out)[2] > 10
    assert "Saved video to out/first.mp4" in result.stderr
    data = result.json()
    assert data["status"] == "completed" and data["download"]["path"] == "out/first.mp4"
    assert "Camera: slow push-in" in data["prompt"] and "teal and amber" in data["prompt"]
    assert not list((tmp_path / "data" / "tmp").iterdir())  # no temp file survives
    assert [p.name for p in out.parent.iterdir()] == ["first.mp4"]


def test_create_returns_at_once_and_writes_json_out(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "create", "--prompt", "A lighthouse at night", "--negative", "people, text", "--json-out", "reports/"
    )

    assert result.code == 0, result.stderr
    job = result.json()
    assert job["status"] in ("queued", "in_progress") and job["id"].startswith("video_")
    assert "Avoid: people, text" in job["prompt"]  # --negative fills the `avoid` field
    assert f"sora-mcp poll --id {job['id']}" in result.stderr
    saved = tmp_path / "reports" / f"{job['id']}.json"
    assert json.loads(saved.read_text())["id"] == job["id"]

    named = cli("create", "--prompt", "A lighthouse at dawn", "--json-out", "reports/dawn")
    assert json.loads((tmp_path / "reports" / "dawn.json").read_text())["id"] == named.json()["id"]


def test_dry_run_prints_request_and_quote_and_calls_nothing(cli: Cli, shared_engine: EngineServer) -> None:
    shared_engine.stats.reset()

    created = cli(
        "create", "--prompt", "A red kite over dunes", "--style", "35mm film", "--seconds", "8", "--dry-run"
    )
    polled = cli("create-and-poll", "--prompt", "A red kite", "--dry-run", "--download", "--out", "x.mp4")

    assert created.code == 0 and polled.code == 0, created.stderr + polled.stderr
    data = created.json()
    assert data["dry_run"] is True
    assert data["request"]["seconds"] == "8" and "35mm film" in data["request"]["prompt"]
    assert data["quote"]["seconds"] == "8" and "usd" in data["quote"]
    assert "nothing was sent" in created.stderr.lower()
    assert len(shared_engine.stats) == 0, shared_engine.stats.requests()
    assert not (cli.cwd / "x.mp4").exists()


def test_prompt_file_without_augmentation_is_sent_verbatim(cli: Cli) -> None:
    (cli.cwd / "prompt.txt").write_text("A tide pool, macro lens, crabs scuttling\n", encoding="utf-8")

    result = cli("create", "--prompt-file", "prompt.txt", "--no-augment")
    refused = cli("create", "--prompt-file", "prompt.txt", "--no-augment", "--camera", "would be dropped")

    assert result.code == 0, result.stderr
    assert result.json()["prompt"] == "A tide pool, macro lens, crabs scuttling"
    assert refused.code == 1 and refused.stderr.startswith("Error: ") and "--augment" in refused.stderr


def test_create_and_poll_saves_a_thumbnail_into_a_directory(cli: Cli) -> None:
    from PIL import Image

    result = cli(
        "create-and-poll",
        "--prompt",
        "A windmill",
        "--size",
        "720x1280",
        "--variant",
        "thumbnail",
        "--out",
        "stills/",
        "--poll-interval",
        "0.2",
    )

    assert result.code == 0, result.stderr
    data = result.json()
    path = cli.cwd / "stills" / f"{data['id']}.webp"
    with Image.open(path) as img:
        assert img.format == "WEBP" and img.size[1] > img.size[0]  # portrait
    assert data["download"]["variant"] == "thumbnail"
    assert ": completed" in result.stderr  # the status change was reported on stderr


def test_a_failed_generation_exits_1_with_the_reason(cli: Cli, shared_engine: EngineServer) -> None:
    shared_engine.set_faults(denylist=["forbidden lighthouse"])
    try:
        result = cli("create-and-poll", "--prompt", "A forbidden lighthouse", "--download", "--out", "f.mp4")
    finally:
        shared_engine.set_faults(denylist=[])

    assert result.code == 1
    assert result.json()["status"] == "failed"
    assert "Error:" in result.stderr and "moderation_blocked" in result.stderr
    assert not (cli.cwd / "f.mp4").exists()


def test_a_terminal_gets_a_progress_bar_on_stderr(cli: Cli) -> None:
    """With stderr on a pseudo-terminal the wait is drawn by rich; stdout stays plain JSON."""
    import os
    import pty
    import subprocess
    import sys
    import threading

    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.run(
        [sys.executable, "-m", "sora_mcp", "create-and-poll", "--prompt", "A lantern"],
        cwd=cli.cwd,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=slave,
        timeout=60,
        check=False,
    )
    os.close(slave)
    reader.join(timeout=5)
    os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace")

    assert proc.returncode == 0
    assert json.loads(proc.stdout)["status"] == "completed"
    assert "━" in shown and "100%" in shown  # the bar, drawn to the end
    assert "Traceback" not in shown

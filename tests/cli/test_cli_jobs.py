"""Working with existing jobs: status, poll, download (with --force protection), list, delete,
remix / extend / edit — each command run as a subprocess against the shared engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from sora_mcp.engine import EngineServer
from tests.cli.conftest import Cli, decode_mp4


@pytest.fixture(scope="module")
def home(shared_engine: EngineServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One data directory for the module, holding one completed job (made by create-and-poll)."""
    cli = Cli(tmp_path_factory.mktemp("home"), shared_engine.base_url)
    made = cli("create-and-poll", "--prompt", "A harbour at dawn, gulls circling")
    assert made.code == 0, made.stderr
    cli.video_id = made.json()["id"]  # type: ignore[attr-defined]
    return cli


def test_status_prints_the_job_as_json(home: Cli) -> None:
    result = home("status", "--id", home.video_id)

    assert result.code == 0, result.stderr
    job = result.json()
    assert job["id"] == home.video_id and job["status"] == "completed"
    assert {a["variant"] for a in job["assets"]} >= {"video"}
    assert f"{home.video_id}: completed" in result.stderr


def test_poll_a_finished_job_downloads_it(home: Cli) -> None:
    result = home("poll", "--id", home.video_id, "--download", "--out", "polled")

    assert result.code == 0, result.stderr
    assert decode_mp4(home.cwd / "polled.mp4")[2] > 10  # no extension given: .mp4 added
    assert result.json()["download"]["path"] == "polled.mp4"


def test_download_refuses_to_overwrite_without_force(home: Cli) -> None:
    target = home.cwd / "keep.mp4"
    target.write_bytes(b"my own file")

    refused = home("download", "--id", home.video_id, "--out", "keep.mp4")
    assert refused.code == 1
    assert refused.stderr.startswith("Error: ") and "--force" in refused.stderr
    assert target.read_bytes() == b"my own file"

    forced = home("download", "--id", home.video_id, "--out", "keep.mp4", "--force")
    assert forced.code == 0, forced.stderr
    assert decode_mp4(target)[:2] == (1280, 720)
    assert forced.json()["sha256"] == _sha256(target)
    assert [p.name for p in home.cwd.iterdir() if p.name.startswith(".keep")] == []  # no temp copy left


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_spritesheet_gets_its_extension(home: Cli) -> None:
    from PIL import Image

    result = home("download", "--id", home.video_id, "--variant", "spritesheet", "--out", "sheets/grid")

    assert result.code == 0, result.stderr
    with Image.open(home.cwd / "sheets" / "grid.jpg") as img:
        assert img.format == "JPEG"


def test_download_without_out_reports_the_library_copy(home: Cli) -> None:
    result = home("download", "--id", home.video_id)

    assert result.code == 0, result.stderr
    path = Path(result.json()["path"])
    assert path.is_file() and path.is_relative_to(home.cwd / "data")


def test_list_as_json_and_as_a_paged_cursor(home: Cli) -> None:
    extra = home("create", "--prompt", "A second clip for the list")
    first = home("list", "--limit", "1", "--json")
    second = home("list", "--limit", "1", "--after", first.json()["next_after"])  # stdout is a pipe: JSON

    assert first.code == 0 and second.code == 0, first.stderr + second.stderr
    assert [j["id"] for j in first.json()["data"]] == [extra.json()["id"]]  # newest first
    assert [j["id"] for j in second.json()["data"]] == [home.video_id]
    assert second.json()["has_more"] is False


@pytest.mark.parametrize("kind", ["remix", "extend", "edit"])
def test_derive_commands_make_a_new_job_from_a_completed_one(home: Cli, kind: str) -> None:
    result = home(
        kind, "--id", home.video_id, "--prompt", "same harbour, now at night", "--lighting", "moonlight"
    )

    assert result.code == 0, result.stderr
    job = result.json()
    assert job["id"] != home.video_id and job["status"] in ("queued", "in_progress")
    assert "moonlight" in job["prompt"]
    if kind == "remix":
        assert job["remixed_from_video_id"] == home.video_id
    if kind == "extend":
        assert job["seconds"] == "8"  # 4 s source + the default 4 s segment


def test_delete_marks_it_deleted_and_keeps_the_archive(home: Cli) -> None:
    doomed = home("create-and-poll", "--prompt", "A clip to delete").json()["id"]

    result = home("delete", "--id", doomed)
    after = home("status", "--id", doomed)

    assert result.code == 0, result.stderr
    assert result.json()["deleted"] is True and "--delete-local-files" in result.stderr
    assert after.json()["status"] == "deleted"
    again = home("download", "--id", doomed, "--out", "after-delete.mp4")  # the library still has it
    assert again.code == 0 and decode_mp4(home.cwd / "after-delete.mp4")[2] > 10

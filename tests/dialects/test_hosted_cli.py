"""The hosted providers through the CLI (`sora-mcp` as a subprocess) and the statuses the MCP
journeys do not reach: Together end to end (create with size/seconds, poll, download from its
signed URL without the key, billed cost, refusals, a failed job), OpenRouter's signed `urls` and
its failed and cancelled jobs from a terminal, and Together's failure through the MCP client.
The fakes are tests/dialects/fake_hosted.py, built from each provider's published docs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends.fakes import FakeServer
from tests.cli.conftest import API_KEY, Cli
from tests.dialects.fake_hosted import FakeOpenRouter, FakeTogether, SignedStore

from .conftest import SECRET_KEY, mcp_client, settings_for, structured

KLING = "kwaivgI/kling-2.1-master"  # a Together model, at a size Together's model table lists


def _posts(fake: FakeOpenRouter | FakeTogether) -> int:
    return len([m for m, _, _ in fake.log if m == "POST"])


def _keyless(store: FakeServer) -> None:
    """The signed-URL host was used, and never saw the key in any header."""
    fake: SignedStore = store.fake  # type: ignore[assignment]
    signed = [h for _, p, h in fake.log if p.startswith("/signed/")]
    assert signed, "the download should have used the signed URL"
    assert all("authorization" not in h and API_KEY not in str(h) for h in signed)


def test_together_through_the_cli(tmp_path: Path, store: FakeServer, mp4: bytes) -> None:
    fake = FakeTogether(api_key=API_KEY)
    fake.store = store.fake  # type: ignore[assignment]
    with FakeServer(fake) as server:
        cli = Cli(tmp_path, f"{server.origin}/v2", SORA_MCP_DIALECT="together")
        poll = ("--poll-interval", "0.2")
        done = cli(
            "create-and-poll",
            "--prompt",
            "a lighthouse at dawn",
            "--model",
            KLING,
            "--size",
            "1920x1080",
            "--seconds",
            "5",
            *poll,
            "--download",
            "--out",
            "out/lighthouse.mp4",
        )
        assert done.code == 0, done.stderr
        body = fake.bodies[-1]
        assert (body["width"], body["height"], body["seconds"]) == (1920, 1080, "5")
        job = done.json()
        assert (job["status"], job["size"], job["seconds"]) == ("completed", "1920x1080", "5")
        assert job["quote"]["usd"] == pytest.approx(0.35) and "billed" in job["quote"]["note"]
        assert (tmp_path / "out" / "lighthouse.mp4").read_bytes() == mp4
        _keyless(store)

        status = cli("status", "--id", job["id"])
        assert status.code == 0 and status.json()["quote"]["usd"] == pytest.approx(0.35)
        remix = cli("remix", "--id", job["id"], "--prompt", "at dusk")
        assert remix.code == 1 and "This backend (Together AI) cannot remix" in remix.stderr
        assert "create" in remix.stderr
        deleted = cli("delete", "--id", job["id"])
        assert deleted.code == 0 and "cannot delete" in deleted.stdout
        assert _posts(fake) == 1  # the refusals sent nothing

        fake.outcome = "failed"
        failed = cli("create-and-poll", "--prompt", "a storm", "--model", KLING, "--seconds", "5", *poll)
        assert failed.code == 1
        assert "could not render this prompt" in failed.stdout + failed.stderr
        listed = cli("list", "--json")
        assert listed.code == 0
        ids = {j["id"] for j in listed.json()["data"]}
        assert job["id"] in ids and len(ids) == 2  # the library's own list: Together has no list route
        status_failed = cli("status", "--id", failed.json()["id"])
        assert status_failed.json()["status"] == "failed"
        for result in (done, status, remix, deleted, failed, listed):
            assert API_KEY not in result.stdout + result.stderr


def test_openrouter_signed_urls_and_endings_through_the_cli(
    tmp_path: Path, store: FakeServer, mp4: bytes
) -> None:
    fake = FakeOpenRouter(api_key=API_KEY)
    fake.use_mp4(mp4)
    fake.store = store.fake  # type: ignore[assignment]
    with FakeServer(fake) as server:
        cli = Cli(tmp_path, f"{server.origin}/api/v1", SORA_MCP_DIALECT="openrouter")
        args = ("--prompt", "dunes", "--model", "alibaba/wan-2.6", "--size", "720x720", "--seconds", "10")
        poll = ("--poll-interval", "0.2")
        # A size the model does not list is refused from its catalog, naming what it can do.
        wrong = cli("create", "--prompt", "dunes", "--model", "alibaba/wan-2.6", "--size", "1920x1080")
        assert wrong.code == 1 and "1920x1080 is not available for alibaba/wan-2.6" in wrong.stderr
        assert "854x480" in wrong.stderr and "720x720" in wrong.stderr and _posts(fake) == 0
        done = cli("create-and-poll", *args, *poll, "--download", "--out", "out/dunes.mp4")
        assert done.code == 0, done.stderr
        assert (fake.bodies[-1]["resolution"], fake.bodies[-1]["aspect_ratio"]) == ("720p", "1:1")
        assert (tmp_path / "out" / "dunes.mp4").read_bytes() == mp4
        assert done.json()["quote"]["usd"] == pytest.approx(0.36)  # usage.cost, not the $0.40 quote
        _keyless(store)
        assert not [p for _, p, _ in fake.log if p.endswith("/content")]  # the signed URL sufficed

        endings = {}
        for outcome in ("failed", "cancelled"):
            fake.outcome = outcome
            endings[outcome] = cli("create-and-poll", *args, *poll)
        failed, cancelled = endings["failed"], endings["cancelled"]
        assert failed.code == 1 and "rejected the prompt" in failed.stdout + failed.stderr
        assert cancelled.code == 1 and cancelled.json()["status"] == "cancelled"
        assert _posts(fake) == 3
        status = cli("status", "--id", failed.json()["id"])
        assert status.code == 0 and status.json()["status"] == "failed"
        for result in (done, failed, cancelled):
            assert API_KEY not in result.stdout + result.stderr


@pytest.mark.anyio
async def test_together_failure_through_mcp(data_dir: Path) -> None:
    fake = FakeTogether(api_key=SECRET_KEY)
    fake.outcome = "failed"
    with FakeServer(fake) as server:
        async with mcp_client(settings_for(f"{server.origin}/v2", data_dir, dialect="together")) as client:
            created = structured(
                await client.call_tool(
                    "create_video", {"prompt": "a storm", "model": KLING, "size": "1920x1080", "seconds": "5"}
                )
            )
            assert created["status"] == "in_progress"
            waited = structured(
                await client.call_tool("get_status", {"video_id": created["id"], "wait_seconds": 45})
            )
            job = waited["jobs"][0]
            assert job["status"] == "failed" and job["error"]["code"] == "generation_failed"
            assert "could not render this prompt" in job["error"]["message"]
            spend = structured(await client.call_tool("get_spend", {}))
            assert spend["total_usd"] == 0

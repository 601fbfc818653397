"""create-batch: one JSON result per line on stdout, bad lines named by line number, exit 1."""

from __future__ import annotations

import json

from sora_mcp.engine import EngineServer
from tests.cli.conftest import Cli

JOBS = "\n".join(
    [
        json.dumps({"prompt": "A koi pond from above", "camera": "top-down"}),
        '{"prompt": "broken", "seconds":',
        "# a comment line is skipped",
        "A plain prompt line: fireworks over a bay",
        json.dumps({"prompt": "portrait", "size": "720x1280"}),
    ]
)


def test_batch_creates_the_good_lines_and_reports_the_bad_one_by_number(cli: Cli) -> None:
    (cli.cwd / "jobs.jsonl").write_text(JOBS + "\n", encoding="utf-8")

    result = cli(
        "create-batch",
        "--input",
        "jobs.jsonl",
        "--out-dir",
        "results",
        "--concurrency",
        "2",
        "--max-attempts",
        "1",
        "--seconds",
        "8",
    )

    assert result.code == 1  # one line failed
    lines = result.json_lines()
    assert [r["line"] for r in lines] == [1, 2, 4, 5]
    bad = lines[1]
    assert bad["ok"] is False and bad["error"].startswith("line 2:") and "JSON" in bad["error"]
    good = [r for r in lines if r["ok"]]
    assert len({r["job"]["id"] for r in good}) == 3
    assert all(r["job"]["seconds"] == "8" for r in good)  # the --seconds default applied to every line
    assert good[2]["job"]["size"] == "720x1280"  # a line's own value beats the default
    assert "Error: line 2:" in result.stderr
    summary = json.loads((cli.cwd / "results" / "summary.json").read_text())
    assert summary["created"] == 3 and summary["failed"] == 1
    assert json.loads((cli.cwd / "results" / "line-002.json").read_text())["ok"] is False

    polled = cli("poll", "--id", good[0]["job"]["id"], "--timeout", "60")  # batch jobs are real jobs
    assert polled.code == 0 and polled.json()["status"] == "completed"


def test_batch_dry_run_sends_nothing_and_exits_0_when_all_lines_are_valid(
    cli: Cli, shared_engine: EngineServer
) -> None:
    (cli.cwd / "ok.jsonl").write_text("A lighthouse\nA harbour\n", encoding="utf-8")
    shared_engine.stats.reset()

    result = cli("create-batch", "--input", "ok.jsonl", "--dry-run")

    assert result.code == 0, result.stderr
    assert [r["job"]["status"] for r in result.json_lines()] == ["dry_run", "dry_run"]
    assert shared_engine.stats.count("POST", "/v1/videos") == 0 and len(shared_engine.stats) == 0


def test_batch_refuses_out_of_range_flags_and_a_missing_file(cli: Cli) -> None:
    assert cli("create-batch", "--input", "x.jsonl", "--concurrency", "0").code == 2
    assert cli("create-batch", "--input", "x.jsonl", "--max-attempts", "11").code == 2
    missing = cli("create-batch", "--input", "nowhere.jsonl")
    assert missing.code == 2 and "nowhere.jsonl" in missing.stderr

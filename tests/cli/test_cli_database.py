"""`SORA_MCP_DATABASE_URL` from the CLI: a PostgreSQL ledger used end to end, and clear refusals."""

from __future__ import annotations

from pathlib import Path

from sora_mcp.library import Ledger
from tests.cli.conftest import Cli


def test_a_cli_job_is_recorded_in_postgres(cli: Cli, database_url: str, tmp_path: Path) -> None:
    cli.env["SORA_MCP_DATABASE_URL"] = database_url
    made = cli(
        "create-and-poll", "--prompt", "A heron in the reeds", "--download", "--out", "heron.mp4", timeout=120
    )
    assert made.code == 0, made.stderr
    vid = made.json()["id"]
    listed = cli("list", "--json")
    assert listed.code == 0 and vid in listed.stdout
    reader = Ledger(database_url)
    try:
        record = reader.get(vid)
    finally:
        reader.close()
    assert record is not None and record.status == "completed" and record.asset("video") is not None
    assert not (tmp_path / "data" / "ledger.sqlite3").exists()


def test_a_bad_database_url_is_refused_without_showing_its_password(cli: Cli, database_url: str) -> None:
    cli.env["SORA_MCP_DATABASE_URL"] = "mysql://me:hunter2-secret@db.example/sora"
    result = cli("list", "--json")
    assert result.code == 1 and "SORA_MCP_DATABASE_URL" in result.stderr and "postgresql://" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout

    port = database_url.rsplit(":", 1)[1].split("/")[0]
    password = database_url.split(":")[2].split("@")[0]
    cli.env["SORA_MCP_DATABASE_URL"] = database_url.replace(f":{port}/", ":1/")
    result = cli("list", "--json")
    assert result.code == 1 and result.stderr.startswith("Error: The ledger database could not be reached")
    assert password not in result.stderr + result.stdout

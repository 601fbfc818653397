"""The human CLI with clips in S3: `create-and-poll --download --out` archives into the bucket and
saves the copy by streaming it from there."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sora_mcp.engine import EngineServer
from tests.cli.conftest import API_KEY, Cli, decode_mp4
from tests.store.conftest import aws_env, objects, open_uploads


def test_create_and_download_through_the_cli_keeps_the_clip_in_the_bucket(
    engine_factory: Any, moto_server: Any, s3: Any, bucket: str, tmp_path: Path
) -> None:
    engine: EngineServer = engine_factory(api_key=API_KEY)
    cli = Cli(tmp_path, engine.base_url)
    # boto3's settings for the loopback server only (none inherited from the machine)
    cli.env = {k: v for k, v in cli.env.items() if not k.startswith("AWS_")} | aws_env(
        moto_server.url, tmp_path
    )
    cli.env["SORA_MCP_ASSET_STORE"] = f"s3://{bucket}/cli"
    made = cli(
        "create-and-poll", "--prompt", "A heron in the reeds", "--download", "--out", "heron.mp4", timeout=120
    )
    assert made.code == 0, made.stderr
    vid = made.json()["id"]
    saved = (tmp_path / "heron.mp4").read_bytes()
    stored = s3.get_object(Bucket=bucket, Key=f"cli/{vid}/video.mp4")["Body"].read()
    assert hashlib.sha256(saved).hexdigest() == hashlib.sha256(stored).hexdigest()
    assert decode_mp4(tmp_path / "heron.mp4")[2] > 0
    assert f"cli/{vid}/video.mp4" in objects(s3, bucket) and open_uploads(s3, bucket) == []
    assert not any(p.is_file() for p in (tmp_path / "data" / "library").rglob("*"))

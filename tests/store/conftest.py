"""Fixtures for the S3 asset-store tests: moto's standalone server on 127.0.0.1 (one per session),
a fresh bucket per test, boto3's settings in the environment, and an empty temp folder at the end.

moto is a dependency of `.[test]`; without it the tests skip, except under CI=true where they fail.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.store.s3server import MISSING, MotoServer, RefusingGateway, moto_command

ACCESS_KEY = "AKIATESTSORAMCP0001"
SECRET_KEY = "s3-secret-DO-NOT-LEAK-7f3e9a"


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    if moto_command() is None:
        if os.environ.get("CI") == "true":
            pytest.fail(MISSING + " (CI must run the S3 store tests)")
        pytest.skip(MISSING)
    server = MotoServer(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


@pytest.fixture
def gateway(moto_server: MotoServer) -> Iterator[RefusingGateway]:
    relay = RefusingGateway(moto_server.port).start()
    yield relay
    relay.stop()


def aws_env(endpoint: str, tmp_path: Path) -> dict[str, str]:
    """boto3's usual settings pointing at a loopback server; no config file outside the test's folder."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config-none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials-none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_server: MotoServer, tmp_path: Path) -> Callable[..., None]:
    """`aws(endpoint=None)`: boto3's environment for this test (the moto server by default)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)

    def use(endpoint: str | None = None) -> None:
        for name, value in aws_env(endpoint or moto_server.url, tmp_path).items():
            monkeypatch.setenv(name, value)

    use()
    return use


@pytest.fixture
def s3(moto_server: MotoServer) -> Any:
    """The test's own boto3 client, straight to the moto server: how the tests look at the bucket."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=moto_server.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"clips-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=name)
    yield name


def objects(s3: Any, bucket: str) -> dict[str, int]:
    """Every object in the bucket: key → size."""
    listed = s3.list_objects_v2(Bucket=bucket)
    return {o["Key"]: int(o["Size"]) for o in listed.get("Contents", [])}


def open_uploads(s3: Any, bucket: str) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


@pytest.fixture(autouse=True)
def _temp_folder_ends_empty(data_dir: Path) -> Iterator[None]:
    yield
    tmp = data_dir / "tmp"
    leftovers = sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []
    assert leftovers == [], f"temp files left behind in {tmp}: {leftovers}"

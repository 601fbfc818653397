"""Operator pieces of the HTTP app: /healthz and /readyz, request ids, JSON log lines, --stateless checks.

The app is the one `sora-mcp serve --transport http` builds (bearer token on), reached through
httpx's ASGI transport; the JSON logs are read from a real `serve` subprocess's stderr.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from sora_mcp.config import Settings
from sora_mcp.engine import EngineServer
from tests.hardening.runs.serve_proc import ServeProcess
from tests.pg import PostgresCluster
from tests.server.conftest import asgi_http

pytestmark = pytest.mark.anyio
TOKEN = "ops-test-token-" + "y" * 24
KEY = "sk-ops-test"


def _settings(engine: EngineServer, data_dir: Path, **more: object) -> Settings:
    return Settings(
        base_url=engine.base_url, api_key=KEY, data_dir=data_dir, auth_token=TOKEN, watch=False, **more
    )


async def test_probes_answer_without_the_token_but_behind_the_host_guard(
    engine_factory: object, data_dir: Path
) -> None:
    engine = engine_factory(api_key=KEY)  # type: ignore[operator]
    async with asgi_http(_settings(engine, data_dir)) as (_, http):
        health = await http.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        assert (await http.head("/readyz")).status_code == 200
        assert (await http.post("/healthz")).status_code == 405
        assert (await http.post("/mcp", json={})).status_code == 401  # the rest still needs the token
        assert (await http.get("/healthz", headers={"host": "evil.example"})).status_code == 421
        # The store (the local library) gone: 503 naming it, and no host path in the answer.
        shutil.rmtree(data_dir / "library")
        broken = await http.get("/readyz")
        assert broken.status_code == 503
        assert broken.json()["failing"] == ["asset store: the library folder is missing or not writable"]
        assert str(data_dir) not in broken.text


async def test_readyz_names_an_unreachable_database_without_its_url(
    postgres_cluster: PostgresCluster, database_url: str, engine_factory: object, data_dir: Path
) -> None:
    engine = engine_factory(api_key=KEY)  # type: ignore[operator]
    async with asgi_http(_settings(engine, data_dir, database_url=database_url)) as (_, http):
        assert (await http.get("/readyz")).status_code == 200
        name = database_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")  # the ledger's database goes away
        broken = await http.get("/readyz")
        assert broken.status_code == 503
        (failing,) = broken.json()["failing"]
        assert failing.startswith("database: unreachable")
        assert postgres_cluster.password not in broken.text and "postgresql://" not in broken.text


async def test_request_ids_are_echoed_or_made(engine_factory: object, data_dir: Path) -> None:
    engine = engine_factory(api_key=KEY)  # type: ignore[operator]
    async with asgi_http(_settings(engine, data_dir)) as (_, http):
        given = await http.get("/healthz", headers={"x-request-id": "trace-42.a:b"})
        assert given.headers["x-request-id"] == "trace-42.a:b"
        made = await http.get("/healthz", headers={"x-request-id": "no spaces allowed"})
        assert len(made.headers["x-request-id"]) == 16 and made.headers["x-request-id"] != "trace-42.a:b"
        refused = await http.post("/mcp", json={})  # refusals carry one too
        assert refused.status_code == 401 and len(refused.headers["x-request-id"]) == 16


def test_json_logs_carry_the_request_id(engine: EngineServer, data_dir: Path) -> None:
    settings = Settings(base_url=engine.base_url, data_dir=data_dir)
    server = ServeProcess(settings, "http", log_level="INFO", args=("--log-format", "json"))
    try:
        shutil.rmtree(data_dir / "library")  # so /readyz logs why it is not ready
        req = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/readyz", headers={"X-Request-Id": "req-json-7"}
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=15)
        assert err.value.code == 503 and err.value.headers["x-request-id"] == "req-json-7"
    finally:
        stderr = server.close()
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]  # every line is JSON
    mine = [x for x in lines if x.get("request_id") == "req-json-7"]
    assert mine and mine[0]["level"] == "WARNING" and "not ready: asset store" in mine[0]["msg"]
    assert {"ts", "level", "logger", "msg"} <= set(mine[0])


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--transport", "sse", "--stateless"], {}, "--stateless applies to --transport http only"),
        (["--transport", "http"], {"SORA_MCP_LOG_FORMAT": "xml"}, "SORA_MCP_LOG_FORMAT"),
    ],
)
def test_serve_refuses_stateless_sse_and_an_unknown_log_format(
    data_dir: Path, args: list[str], env: dict[str, str], says: str
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "sora_mcp", "serve", *args],
        env={"PATH": "/usr/bin:/bin", "SORA_MCP_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2 and says in run.stderr, run.stderr


async def test_a_webhook_replayed_to_the_other_instance_is_refused(
    database_url: str, engine_factory: object, tmp_path: Path
) -> None:
    """Two instances on one PostgreSQL ledger: a delivery accepted by one is a replay on the other."""
    from tests.server.test_webhooks import STANDARD_SECRET, _standard_headers

    engine = engine_factory(api_key=KEY)  # type: ignore[operator]
    made = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        made.append(
            _settings(engine, tmp_path / name, database_url=database_url, webhook_secret=STANDARD_SECRET)
        )
    body = json.dumps({"type": "video.completed", "data": {"id": "video_" + "0" * 32}}).encode()
    headers = _standard_headers(body, "msg_cluster_1")
    async with asgi_http(made[0]) as (_, http_a), asgi_http(made[1]) as (_, http_b):
        assert (await http_a.post("/webhooks/video", content=body, headers=headers)).status_code == 204
        assert (await http_b.post("/webhooks/video", content=body, headers=headers)).status_code == 401
        assert (await http_a.post("/webhooks/video", content=body, headers=headers)).status_code == 401
        other = _standard_headers(body, "msg_cluster_2")  # a new delivery id is accepted anywhere
        assert (await http_b.post("/webhooks/video", content=body, headers=other)).status_code == 204


@pytest.mark.parametrize(("mode", "asks"), [("legacy", False), ("auto", True)])
async def test_stateless_serving_keeps_approval_for_2026_clients_only(
    engine_factory: object, data_dir: Path, mode: str, asks: bool
) -> None:
    """`serve --stateless`: a 2025-11-25 client cannot be asked mid-call (no session), so a spend over
    the budget is refused with the fix; a 2026-07-28 client is asked (input_required rounds)."""
    from tests.cluster.procs import client
    from tests.hardening.runs.common import SECRET_KEY
    from tests.service.long_jobs.conftest import answering

    engine = engine_factory(api_key=SECRET_KEY)  # type: ignore[operator]
    settings = Settings(base_url=engine.base_url, data_dir=data_dir)
    server = ServeProcess(
        settings,
        "http",
        env={"SORA_MCP_AUTH_TOKEN": TOKEN, "SORA_MCP_BUDGET_USD": "0.5"},
        args=("--stateless",),
    )
    asked: list[str] = []
    try:
        async with client(server.url, TOKEN, mode, elicitation_callback=answering(True, asked)) as c:
            result = await c.call_tool(
                "create_video", {"prompt": "A lighthouse beam sweeping through fog", "seconds": "8"}
            )
    finally:
        server.close()
    message = " ".join(getattr(x, "text", "") for x in result.content)
    if asks:
        assert not result.is_error and len(asked) == 1, message
        assert engine.stats.count("POST", "/v1/videos") == 1
    else:
        assert result.is_error and asked == [] and "SORA_MCP_BUDGET_USD" in message, message
        assert engine.stats.count("POST", "/v1/videos") == 0

"""The engine's front door over real sockets: Host/Origin, CORS, content types, admin routes,
encoded-dot ids, body caps, bad numbers and the start-up sweep of `.part` leftovers.

Requests go out byte for byte through `http.client` (`exact`), so `%2e%2e` reaches the engine
as written; the engine is an `EngineServer` on 127.0.0.1 as the service starts it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from sora_mcp.engine import EngineConfig, EngineServer
from sora_mcp.engine.guard import MAX_BODY_BYTES
from tests.engine.engine_helpers import HOSTILE_IDS, create_done, exact, sdk, stream_until_answer

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
KEY = "surface-key-0123456789"
CREATE = json.dumps({"prompt": "A red kite", "seconds": "4"}).encode()
JSON = {"Content-Type": "application/json"}


def tree(root: Path) -> dict[str, int]:
    """Every file under root with its size (the db and its WAL included)."""
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


async def test_host_origin_and_no_cors(engine_factory) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory(api_key=KEY, allowed_hosts=["preview.lan", "box:9"])
    port = engine.port
    ok_hosts = [
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        f"[::1]:{port}",
        "localhost",
        "preview.lan:1234",
        "PREVIEW.LAN",
        "box:9",
    ]
    for host in ok_hosts:
        assert exact(port, "GET", "/v1/videos", key=KEY, headers={"Host": host}).status == 200, host
    for host in [
        "evil.example",
        f"evil.example:{port}",
        "127.0.0.1.evil.example",
        "box:10",
        "[::1",
        "",
        "localhost:x",
        "preview.lan.evil",
    ]:
        answer = exact(port, "GET", "/v1/videos", key=KEY, headers={"Host": host})
        assert answer.status == 421, host
        assert "--allowed-host" in answer.error["message"] and answer.error["code"] == "host_not_allowed"
    for origin in [f"http://127.0.0.1:{port}", "http://localhost", "https://preview.lan:8443"]:
        assert exact(port, "GET", "/v1/videos", key=KEY, headers={"Origin": origin}).status == 200, origin
    for origin in [
        "http://evil.example",
        "null",
        f"http://evil.example:{port}",
        "file://",
        "ftp://localhost",
        "http://localhost.evil.example",
    ]:
        answer = exact(port, "GET", "/v1/videos", key=KEY, headers={"Origin": origin})
        assert answer.status == 403 and answer.error["code"] == "origin_not_allowed", origin
    # A browser's preflight gets no CORS grant; no answer ever carries CORS headers.
    preflight = exact(
        port,
        "OPTIONS",
        "/v1/videos",
        key=KEY,
        headers={"Origin": f"http://127.0.0.1:{port}", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status in (401, 404, 405)
    for answer in (
        preflight,
        exact(port, "GET", "/v1/videos", key=KEY, headers={"Origin": "http://localhost"}),
    ):
        assert not [h for h in answer.headers if h.startswith("access-control-")]


async def test_keyless_and_simple_requests_change_nothing(engine_factory) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory(api_key=KEY, faults_enabled=True)
    port = engine.port
    assert exact(port, "GET", "/v1/videos").status == 401
    assert exact(port, "GET", "/anything").status == 401, "every path needs the key"
    assert exact(port, "POST", "/v1/videos", body=CREATE, headers=JSON).status == 401
    # The cross-site "simple request" (text/plain, no preflight): refused even with the right key.
    attack = json.dumps({"fail_rate": 1}).encode()
    for headers in (
        {"Content-Type": "text/plain"},
        {"Content-Type": "text/plain;charset=UTF-8"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {},
    ):
        answer = exact(port, "POST", "/_engine/faults", key=KEY, body=attack, headers=headers)
        assert answer.status == 415, headers
        assert (
            "application/json" in answer.error["message"]
            and answer.error["code"] == "unsupported_content_type"
        )
    foreign = exact(
        port,
        "POST",
        "/_engine/faults",
        body=attack,
        headers={"Content-Type": "text/plain", "Origin": "http://evil.example"},
    )
    assert foreign.status == 403
    assert (
        exact(port, "POST", "/v1/videos", key=KEY, body=CREATE, headers={"Content-Type": "text/plain"}).status
        == 415
    )
    assert engine.config.fail_rate == 0 and engine.jobs_count() == 0
    knobs = exact(port, "GET", "/_engine/faults", key=KEY)
    assert knobs.status == 200 and json.loads(knobs.body)["fail_rate"] == 0


async def test_admin_routes_exist_only_with_faults_enabled(engine_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plain = engine_factory(api_key=KEY)
    for method, path in (("GET", "/_engine/stats"), ("GET", "/_engine/faults"), ("POST", "/_engine/faults")):
        answer = exact(
            plain.port,
            method,
            path,
            key=KEY,
            body=b'{"fail_rate": 1}' if method == "POST" else None,
            headers=JSON,
        )
        assert answer.status == 404, (method, path)
    assert plain.config.fail_rate == 0
    with pytest.raises(ValueError, match="faults_enabled needs an api_key"):
        EngineConfig(data_dir=tmp_path / "x", faults_enabled=True)
    admin = engine_factory(api_key=KEY, faults_enabled=True, data_dir=tmp_path / "admin")
    assert exact(admin.port, "GET", "/_engine/stats").status == 401
    assert exact(admin.port, "GET", "/_engine/stats", key=KEY).status == 200


async def test_encoded_dots_and_slashes_delete_nothing(engine_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path / "engine"
    engine = engine_factory(api_key=KEY, data_dir=data_dir)
    async with sdk(engine, api_key=KEY) as client:
        first = await create_done(client)
        second = await create_done(client, prompt="A blue boat at dawn")
    (data_dir / "stray.txt").write_text("not the engine's")
    before = tree(data_dir)
    assert any(name.endswith("engine.sqlite3") for name in before) and len(before) > 6
    hostile = [*HOSTILE_IDS, f"{first.id}%2f..", f"..%2f{first.id}", first.id.upper(), first.id + "0"]
    for vid in hostile:
        for method, path in (
            ("DELETE", f"/v1/videos/{vid}"),
            ("GET", f"/v1/videos/{vid}"),
            ("GET", f"/v1/videos/{vid}/content"),
            ("POST", f"/v1/videos/{vid}/remix"),
        ):
            answer = exact(
                engine.port,
                method,
                path,
                key=KEY,
                headers=JSON,
                body=b'{"prompt": "x"}' if method == "POST" else None,
            )
            assert answer.status == 404, (method, path, answer.status, answer.body[:200])
    for vid in ["..", "%2e%2e", "../" + first.id]:
        answer = exact(
            engine.port,
            "POST",
            "/v1/videos/extensions",
            key=KEY,
            headers=JSON,
            body=json.dumps({"prompt": "x", "seconds": "4", "video": {"id": vid}}).encode(),
        )
        assert answer.status == 404
    assert tree(data_dir) == before, "a hostile id changed files"
    listed = json.loads(exact(engine.port, "GET", "/v1/videos", key=KEY).body)
    assert {v["id"] for v in listed["data"]} == {first.id, second.id}
    engine.stop()
    with sqlite3.connect(data_dir / "engine.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 2
    again = engine_factory(api_key=KEY, data_dir=data_dir)
    assert again.jobs_count() == 2
    assert exact(again.port, "GET", f"/v1/videos/{second.id}/content", key=KEY).status == 200
    # A real delete removes that job's folder and nothing else.
    assert exact(again.port, "DELETE", f"/v1/videos/{first.id}", key=KEY).status == 200
    left = tree(data_dir)
    assert not any(first.id in name for name in left)
    assert any(second.id in name for name in left) and "stray.txt" in left


async def test_body_caps_answer_413_while_reading(engine: EngineServer) -> None:
    port = engine.port
    over = exact(
        port,
        "POST",
        "/v1/videos",
        headers={"Content-Type": "application/json", "Content-Length": str(600 * 2**20)},
        body=None,
    )
    assert over.status == 413 and str(MAX_BODY_BYTES) in over.error["message"]
    multipart = exact(
        port,
        "POST",
        "/v1/videos",
        headers={
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(MAX_BODY_BYTES + 1),
        },
    )
    assert multipart.status == 413
    huge_length = exact(port, "POST", "/v1/videos", headers={**JSON, "Content-Length": "9" * 40})
    assert huge_length.status in (400, 413)
    # No Content-Length: the body is counted as it arrives and refused once past the cap.
    upload = (
        b'--x\r\nContent-Disposition: form-data; name="input_reference"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    for content_type, preamble in (("application/json", b""), ("multipart/form-data; boundary=x", upload)):
        status, sent = stream_until_answer(
            port, "/v1/videos", {"Content-Type": content_type}, preamble=preamble, max_mb=200
        )
        assert status in (413, None), status
        assert sent < MAX_BODY_BYTES + 32 * 2**20, f"the engine read {sent} bytes before refusing"
    assert engine.jobs_count() == 0
    # Under the cap, a normal create still works.
    assert exact(port, "POST", "/v1/videos", headers=JSON, body=CREATE).status == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"prompt": "x", "seed": 1e400}', "seed"),
        (b'{"prompt": "x", "seed": NaN}', "seed"),
        (b'{"prompt": "x", "seed": -Infinity}', "seed"),
        (b'{"prompt": "x", "seed": ' + b"9" * 5000 + b"}", "seed"),
        (b'{"prompt": "x", "seed": 1.5}', "seed"),
        (b'{"prompt": "x", "seed": 99999999999999999999}', "seed"),
        (b'{"prompt": "x", "extra": {"n": [1, 2e999]}}', "extra.n[1]"),
        (b'{"prompt": "x", "seconds": "' + b"4" * 5000 + b'"}', "seconds"),
        (b'{"prompt": "x", "seconds": 1e400}', "seconds"),
    ],
)
async def test_bad_numbers_answer_400_naming_the_field(engine: EngineServer, body: bytes, field: str) -> None:
    answer = exact(engine.port, "POST", "/v1/videos", headers=JSON, body=body)
    assert answer.status == 400, answer.body[:300]
    assert answer.error["param"] == field and field in answer.error["message"]
    assert engine.jobs_count() == 0


async def test_bad_numbers_elsewhere(engine_factory) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory(api_key=KEY, faults_enabled=True)
    port = engine.port
    deep = exact(port, "POST", "/v1/videos", key=KEY, headers=JSON, body=b"[" * 100_000 + b"]" * 100_000)
    assert deep.status == 400
    nan = exact(port, "POST", "/_engine/faults", key=KEY, headers=JSON, body=b'{"fail_rate": NaN}')
    assert nan.status == 400 and nan.error["param"] == "fail_rate"
    for limit in ("%C2%B2", "9" * 5000, "-1", "1e3"):
        answer = exact(port, "GET", f"/v1/videos?limit={limit}", key=KEY)
        assert answer.status == 400 and answer.error["param"] == "limit", limit
    form = (
        b'--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nkite\r\n'
        b'--x\r\nContent-Disposition: form-data; name="seed"\r\n\r\n1e400\r\n--x--\r\n'
    )
    answer = exact(
        port,
        "POST",
        "/v1/videos",
        key=KEY,
        body=form,
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert answer.status == 400 and answer.error["param"] == "seed"
    assert engine.jobs_count() == 0 and engine.config.fail_rate == 0


async def test_start_sweeps_part_leftovers(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine"
    with EngineServer(EngineConfig(data_dir=data_dir, api_key=KEY)) as first:
        async with sdk(first, api_key=KEY) as client:
            done = await create_done(client)
    job = data_dir / "videos" / done.id
    leftovers = [
        job / "out" / ".1a2b3c4d5e6f.part.video.mp4",
        job / "out" / ".1a2b3c4d5e6f.part.thumbnail.webp",
        job / "input_reference.png.part",
        data_dir / "videos" / "video_gone" / "out" / ".abc.part.video.mp4",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\0" * 4096)
    kept = tree(data_dir)
    with EngineServer(EngineConfig(data_dir=data_dir, api_key=KEY)) as second:
        assert not [p for p in leftovers if p.exists()], "start left .part files behind"
        assert exact(second.port, "GET", f"/v1/videos/{done.id}/content", key=KEY).status == 200
    after = tree(data_dir)
    expected = {name for name in kept if ".part" not in name}
    assert expected <= set(after) and all(after[n] == kept[n] for n in expected if "sqlite" not in n)
    assert os.path.isdir(job / "out")


def test_request_log_is_bounded() -> None:
    from sora_mcp.engine.stats import MAX_LOGGED, MAX_PATH, RequestStats

    stats = RequestStats()
    for _ in range(MAX_LOGGED + 10):
        stats.record("GET", "/v1/videos/" + "x" * 10_000, 401)
    assert len(stats) == MAX_LOGGED
    assert max(len(path) for _, path, _ in stats.requests) == MAX_PATH

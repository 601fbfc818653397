"""OIDC / OAuth 2.1 access tokens (issue #23 item 1): the real HTTP server as a resource server,
checking JWTs against a JWKS served by a tiny server on 127.0.0.1 with a key made here.

A valid token acts for its `sub` (each sub its own user; an admin scope sees all); a wrong
audience, a wrong issuer, an expired token, a bad signature, an unknown key id and an unsigned
token all get the same bare 401. The protected resource metadata (RFC 9728) is served.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sora_mcp.config import Settings
from tests.results import structured, text
from tests.server.conftest import SECRET_KEY
from tests.server.users_helpers import Serve, connect, free_port, raw_post

pytestmark = pytest.mark.anyio

ISSUER = "https://login.example.test/realms/team"
AUDIENCE = "sora-mcp"
ADMIN_SCOPE = "sora:admin"
PUBLIC_URL = "https://sora.example.test/mcp"


class _Jwks:
    """GET /jwks.json on 127.0.0.1: the public half of the key made for the test."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        body = json.dumps({"keys": keys}).encode()
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                outer.fetches += 1
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture
def jwks(keys: tuple[Any, Any]) -> Iterator[_Jwks]:
    public = jwt.algorithms.RSAAlgorithm.to_jwk(keys[0].public_key(), as_dict=True)
    server = _Jwks([{**public, "kid": "k1", "use": "sig", "alg": "RS256"}])
    yield server
    server.close()


def _token(key: Any, *, kid: str = "k1", alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "ada", "iat": now, "exp": now + 300, **claims}
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


async def test_oidc_access_tokens(engine_factory, data_dir: Path, keys: tuple[Any, Any], jwks: _Jwks) -> None:
    good, other = keys
    engine = engine_factory(api_key=SECRET_KEY, poll_after_ms=200)
    settings = Settings(base_url=engine.base_url, api_key=SECRET_KEY, data_dir=data_dir)
    env = {
        "SORA_MCP_OIDC_ISSUER": ISSUER,
        "SORA_MCP_OIDC_AUDIENCE": AUDIENCE,
        "SORA_MCP_OIDC_JWKS_URL": jwks.url,
        "SORA_MCP_OIDC_ADMIN_SCOPE": ADMIN_SCOPE,
        "SORA_MCP_OIDC_RESOURCE_URL": PUBLIC_URL,
    }
    now = int(time.time())
    refused = {
        "wrong audience": _token(good, aud="another-api"),
        "wrong issuer": _token(good, iss="https://evil.example.test"),
        "expired": _token(good, exp=now - 120, iat=now - 600),
        "bad signature": _token(other),  # the kid of the published key, signed with another
        "unknown kid": _token(other, kid="k2"),
        "no sub": _token(good, sub=None),
        "unsigned": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "ada", "exp": now + 300}, None, algorithm="none"
        ),
        "no token": None,
    }
    with Serve(settings, [], env=env, port=free_port()) as server:
        answers = {why: await raw_post(server.url, tok) for why, tok in refused.items()}
        assert {why: r.status_code for why, r in answers.items()} == dict.fromkeys(refused, 401)
        assert len({r.content for r in answers.values()}) == 1, "a refusal must not say why"
        challenge = answers["expired"].headers["www-authenticate"]
        assert "resource_metadata=" in challenge and "expired" not in challenge.lower()

        async with httpx2.AsyncClient(timeout=10) as http:
            meta = await http.get(f"http://127.0.0.1:{server.port}/.well-known/oauth-protected-resource/mcp")
        assert meta.status_code == 200, meta.text
        assert meta.json()["resource"] == PUBLIC_URL and meta.json()["authorization_servers"] == [ISSUER]

        ada, bea = _token(good, sub="ada"), _token(good, sub="bea")
        admin = _token(good, sub="ops", scope=f"openid {ADMIN_SCOPE}")
        async with connect(server.url, ada) as client:
            made = structured(await client.call_tool("create_video", {"prompt": "A lighthouse at dusk"}))
            listed = structured(await client.call_tool("list_videos", {}))
            assert [j["id"] for j in listed["data"]] == [made["id"]]
        async with connect(server.url, bea) as client:
            other_user = await client.call_tool("get_status", {"video_id": made["id"]})
            assert other_user.is_error and "No video with id" in text(other_user)
            assert structured(await client.call_tool("list_videos", {}))["data"] == []
        async with connect(server.url, admin) as client:
            seen = await client.call_tool("get_status", {"video_id": made["id"]})
            assert not seen.is_error, text(seen)
    # Key ids nobody published do not make the server fetch the key set on every request.
    assert jwks.fetches <= 3

"""Finding and attacking the embedded engine of a running `sora-mcp serve` from outside, as a local user could.

`listening_ports(pid)` reads the process's own sockets from /proc (its fds → socket inodes →
`/proc/<pid>/net/tcp{,6}` rows in LISTEN state), so no port is guessed and nothing is patched.
`attacks(port, video_id)` is the battery both the fast test and the long run send: each
(name, method, path, headers, body) must be refused by an engine whose key the caller does not have.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.hardening.runs.common import SECRET_KEY

LISTEN = "0A"


def listening_ports(pid: int) -> set[int]:
    """TCP ports process `pid` listens on (Linux /proc)."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == LISTEN and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def attacks(port: int, video_id: str) -> list[tuple[str, str, str, dict[str, str], bytes | None]]:
    """Requests an outsider (another local process, or a web page via DNS rebinding) would try."""
    own = f"127.0.0.1:{port}"
    poison = b'{"fail_rate": 1, "error_rate_5xx": 1}'
    create = b'{"prompt": "planted by an outsider"}'
    json_type = {"Content-Type": "application/json"}
    wrong = {"Authorization": f"Bearer {SECRET_KEY}"}  # the MCP server's backend key is not the engine's
    return [
        ("keyless list", "GET", "/v1/videos", {}, None),
        ("keyless retrieve", "GET", f"/v1/videos/{video_id}", {}, None),
        ("keyless download", "GET", f"/v1/videos/{video_id}/content", {}, None),
        ("keyless create", "POST", "/v1/videos", json_type, create),
        ("keyless delete", "DELETE", f"/v1/videos/{video_id}", {}, None),
        ("keyless %2e%2e delete", "DELETE", "/v1/videos/%2e%2e", {}, None),
        ("keyless %2e delete", "DELETE", "/v1/videos/%2e", {}, None),
        ("wrong-key list", "GET", "/v1/videos", wrong, None),
        ("wrong-key delete", "DELETE", f"/v1/videos/{video_id}", wrong, None),
        ("foreign Host list", "GET", "/v1/videos", {"Host": "rebind.evil.example"}, None),
        (
            "foreign Host download",
            "GET",
            f"/v1/videos/{video_id}/content",
            {"Host": f"evil.example:{port}"},
            None,
        ),
        ("foreign Origin list", "GET", "/v1/videos", {"Origin": "http://evil.example", "Host": own}, None),
        (
            "text/plain faults, foreign Origin",
            "POST",
            "/_engine/faults",
            {"Content-Type": "text/plain", "Origin": "http://evil.example"},
            poison,
        ),
        (
            "text/plain faults, foreign Host",
            "POST",
            "/_engine/faults",
            {"Content-Type": "text/plain", "Host": "evil.example"},
            poison,
        ),
        ("text/plain faults, same origin", "POST", "/_engine/faults", {"Content-Type": "text/plain"}, poison),
        ("JSON faults", "POST", "/_engine/faults", json_type, poison),
        ("admin stats", "GET", "/_engine/stats", {}, None),
        (
            "text/plain create, foreign Origin",
            "POST",
            "/v1/videos",
            {"Content-Type": "text/plain", "Origin": "null"},
            create,
        ),
        (
            "600 MB declared body",
            "POST",
            "/v1/videos",
            {**json_type, "Content-Length": str(600 * 2**20)},
            None,
        ),
    ]

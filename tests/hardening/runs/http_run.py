"""The HTTP surface: raw requests (auth, Host/Origin checks) and many concurrent MCP clients."""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "hardening", "version": "1"},
    },
}


def raw_post(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """POST an initialize with these headers; (status, body) whatever the answer."""
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    req = urllib.request.Request(url, data=json.dumps(INIT).encode(), headers=base | headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, resp.read(2000).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def client(url: str, token: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return Client(streamable_http_client(url, http_client=create_mcp_http_client(headers=headers)))


@dataclass
class LoadReport:
    clients: int
    completed: int = 0
    errors: list[str] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        if not self.status_ms:
            return float("nan")
        cuts = statistics.quantiles(self.status_ms, n=100, method="inclusive")
        return cuts[int(q) - 1]


async def one_client(url: str, token: str | None, n: int, data_dir: Path, report: LoadReport) -> None:
    """create → poll get_status (timed) until done → download; errors are recorded, not raised."""
    try:
        async with client(url, token) as c:
            created = await c.call_tool(
                "create_video", {"prompt": f"Client {n}: a lantern in fog", "size": "720x1280"}
            )
            if created.is_error:
                raise RuntimeError(created.content[0].text)
            vid = created.structured_content["id"]
            status = "queued"
            for _ in range(2000):
                t0 = time.perf_counter()
                got = await c.call_tool("get_status", {"video_id": vid})
                report.status_ms.append((time.perf_counter() - t0) * 1000)
                if got.is_error:
                    raise RuntimeError(got.content[0].text)
                status = got.structured_content["jobs"][0]["status"]
                if status not in ("queued", "in_progress"):
                    break
                await anyio.sleep(0.25)
            if status != "completed":
                raise RuntimeError(f"ended {status}")
            asset = await c.call_tool("download_asset", {"video_id": vid})
            if asset.is_error:
                raise RuntimeError(asset.content[0].text)
            path = Path(asset.structured_content["path"])
            if not (path.is_file() and path.resolve().is_relative_to(data_dir.resolve())):
                raise RuntimeError(f"download not in the library: {path}")
            report.completed += 1
    except Exception as exc:  # noqa: BLE001 - counted; the caller asserts there were none
        report.errors.append(f"client {n}: {type(exc).__name__}: {str(exc)[:200]}")


async def load(url: str, token: str | None, clients: int, data_dir: Path, limit_s: float = 600) -> LoadReport:
    report = LoadReport(clients)
    with anyio.fail_after(limit_s):
        async with anyio.create_task_group() as tg:
            for n in range(clients):
                tg.start_soon(one_client, url, token, n, data_dir, report)
    return report


def summary(r: LoadReport) -> str:
    return (
        f"{r.clients} concurrent clients: {r.completed} completed create→wait→download, "
        f"{len(r.errors)} errors; get_status p50 {r.percentile(50):.1f} ms, p99 {r.percentile(99):.1f} ms "
        f"over {len(r.status_ms)} calls"
    )

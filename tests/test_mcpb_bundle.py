"""The .mcpb bundle (one-click install in Claude Desktop): built by scripts/build_mcpb.py, checked by
the official `mcpb` CLI (npm `@anthropic-ai/mcpb`, installed by `npm install` from package.json),
and its manifest's tool list matches what the server lists over MCP."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from mcp import Client

from sora_mcp.config import Settings
from sora_mcp.server import build_server
from sora_mcp.service import VideoService

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.anyio


def _builder():
    spec = importlib.util.spec_from_file_location("build_mcpb", ROOT / "scripts" / "build_mcpb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mcpb() -> str:
    found = shutil.which(str(ROOT / "node_modules" / ".bin" / "mcpb")) or shutil.which("mcpb")
    if found is None:
        pytest.skip("the mcpb CLI is not installed: run `npm install` in the repository (see package.json)")
    return found


async def test_manifest_lists_the_same_tools_as_the_server(tmp_path: Path) -> None:
    folder = _builder().stage(tmp_path / "bundle")
    manifest = json.loads((folder / "manifest.json").read_text())
    async with (
        VideoService(Settings(data_dir=tmp_path / "data")) as service,
        Client(build_server(service)) as client,
    ):
        listed = (await client.list_tools()).tools
    assert [t["name"] for t in manifest["tools"]] == [t.name for t in listed]
    assert all(
        t["description"] == s.description.splitlines()[0]
        for t, s in zip(manifest["tools"], listed, strict=True)
    )
    assert manifest["server"]["type"] == "uv" and "serve" in manifest["server"]["mcp_config"]["args"]
    assert (folder / "pyproject.toml").is_file() and (folder / "sora_mcp" / "server" / "build.py").is_file()
    assert not list(folder.rglob("__pycache__"))


def test_the_official_cli_validates_and_packs_the_bundle(tmp_path: Path) -> None:
    mcpb = _mcpb()
    out = tmp_path / "sora-mcp.mcpb"
    build = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_mcpb.py"), "--mcpb", mcpb, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    assert "Manifest schema validation passes" in build.stdout
    with zipfile.ZipFile(out) as bundle:
        names = set(bundle.namelist())
        manifest = json.loads(bundle.read("manifest.json"))
    assert {
        "manifest.json",
        "pyproject.toml",
        "sora_mcp/server/build.py",
        "sora_mcp/content/catalog.json",
    } <= names
    assert manifest["name"] == "sora-mcp"
    info = subprocess.run([mcpb, "info", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert info.returncode == 0 and "sora-mcp" in info.stdout

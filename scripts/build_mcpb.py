"""Build sora-mcp's MCP Bundle (`.mcpb`), the one-click install format of Claude Desktop.

    python scripts/build_mcpb.py [--out dist/sora-mcp.mcpb] [--mcpb PATH] [--manifest-only DIR]

The bundle is a `uv` bundle (MCPB manifest 0.4): it carries `pyproject.toml` and the package
source, and the host installs Python and the pinned dependencies itself, so compiled wheels
(PyAV, numpy, pydantic) need not be bundled per platform. `manifest.json` is generated: the
version from pyproject.toml, the tool list from the server's own tools/list (names and first
description lines), and the user settings Claude Desktop asks for at install. The official
`mcpb` CLI (npm `@anthropic-ai/mcpb`) validates and packs it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def tools_list() -> list[dict[str, str]]:
    """The tools as the server lists them (default settings), each with its first description line."""
    from sora_mcp.config import Settings
    from sora_mcp.server.tools import build_tools
    from sora_mcp.service import VideoService

    with (
        tempfile.TemporaryDirectory() as tmp
    ):  # building the tools touches nothing, but never a real data dir
        tools = build_tools(VideoService(Settings(data_dir=Path(tmp))))
    return [{"name": t.name, "description": t.description.splitlines()[0]} for t in tools]


def manifest() -> dict[str, Any]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = {
        "SORA_MCP_BASE_URL": "${user_config.base_url}",
        "SORA_MCP_API_KEY": "${user_config.api_key}",
        "SORA_MCP_DATA_DIR": "${user_config.data_dir}",
    }
    return {
        "manifest_version": "0.4",
        "name": "sora-mcp",
        "display_name": "sora-mcp: AI video",
        "version": project["version"],
        "description": "Generate, remix, track and download AI videos on any OpenAI /v1/videos backend; "
        "with none configured, a local engine renders preview clips.",
        "author": {"name": "sora-mcp contributors"},
        "license": project.get("license", {}).get("text", "MIT"),
        "keywords": ["video", "sora", "generation", "mcp"],
        "server": {
            "type": "uv",
            "entry_point": "sora_mcp/__main__.py",
            "mcp_config": {
                "command": "uv",
                "args": ["run", "--directory", "${__dirname}", "sora-mcp", "serve"],
                "env": env,
            },
        },
        "tools": tools_list(),
        "user_config": {
            "base_url": {
                "type": "string",
                "title": "Backend URL",
                "required": False,
                "default": "",
                "description": "Any OpenAI-compatible /v1 endpoint; empty: the local preview engine.",
            },
            "api_key": {
                "type": "string",
                "title": "API key",
                "required": False,
                "sensitive": True,
                "default": "",
                "description": "The backend's key (never shown in any output).",
            },
            "data_dir": {
                "type": "directory",
                "title": "Library folder",
                "required": False,
                "default": "${HOME}/sora-mcp",
                "description": "Where the ledger and the downloaded videos are kept.",
            },
        },
        "compatibility": {"platforms": ["darwin", "win32", "linux"]},
    }


def stage(dest: Path) -> Path:
    """The bundle's folder: manifest, pyproject, README and the package (no caches)."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "manifest.json").write_text(json.dumps(manifest(), indent=2) + "\n")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "sora_mcp",
        dest / "sora_mcp",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        dirs_exist_ok=True,
    )
    return dest


def find_mcpb(given: str | None) -> str:
    for candidate in ([given] if given else []) + [str(ROOT / "node_modules" / ".bin" / "mcpb"), "mcpb"]:
        found = shutil.which(candidate)
        if found:
            return found
    raise SystemExit(
        "Error: the mcpb CLI was not found. Install it with `npm install @anthropic-ai/mcpb` "
        "(in the repository) or pass --mcpb PATH."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build sora-mcp's .mcpb bundle.")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "sora-mcp.mcpb")
    parser.add_argument("--mcpb", help="the mcpb CLI (default: node_modules/.bin/mcpb, then PATH)")
    parser.add_argument("--manifest-only", type=Path, help="only stage the bundle folder here")
    args = parser.parse_args(argv)
    if args.manifest_only:
        print(stage(args.manifest_only))
        return 0
    mcpb = find_mcpb(args.mcpb)
    with tempfile.TemporaryDirectory() as tmp:
        folder = stage(Path(tmp) / "sora-mcp")
        subprocess.run([mcpb, "validate", str(folder / "manifest.json")], check=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([mcpb, "pack", str(folder), str(args.out)], check=True)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

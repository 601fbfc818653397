"""The `sora-mcp` command: `serve` (the MCP server, default), `engine`, and the human commands."""

from __future__ import annotations

import argparse
import sys

from sora_mcp import __version__
from sora_mcp.cli.usage import UsageError
from sora_mcp.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    from sora_mcp.cli import engine_cmd, serve

    parser = argparse.ArgumentParser(
        prog="sora-mcp",
        description="Generate, remix, track, download and delete AI videos on any /v1/videos backend. "
        "With no SORA_MCP_BASE_URL, a local engine renders procedural preview clips (not generative video).",
    )
    parser.add_argument("--version", action="version", version=f"sora-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve.add_parser(sub)
    engine_cmd.add_parser(sub)
    from sora_mcp.cli import doctor, human, users

    human.add_parsers(sub)
    doctor.add_parser(sub)
    users.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("--transport"):
        argv = ["serve", *argv]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:  # a setting refused at start (e.g. SORA_MCP_ASSET_STORE): no traceback
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130

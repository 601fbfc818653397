"""`sora-mcp engine`: the embedded /v1/videos engine as a standalone server."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("engine", help="serve the local /v1/videos preview engine (procedural previews)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", default=None, help="require this bearer key (default: accept any)")
    p.add_argument("--data-dir", type=Path, default=None, help="where jobs and clips are kept")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sora_mcp.cli.serve import configure_logging
    from sora_mcp.config import Settings
    from sora_mcp.engine import EngineConfig, serve_forever

    configure_logging("INFO")
    overrides: dict[str, Any] = {"data_dir": args.data_dir or Settings().engine_dir}
    if args.api_key:
        overrides["api_key"] = args.api_key
    serve_forever(EngineConfig.from_env(**overrides), args.host, args.port)
    return 0

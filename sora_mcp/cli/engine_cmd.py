"""`sora-mcp engine`: the embedded /v1/videos engine as a standalone server.

It needs a key (`SORA_ENGINE_API_KEY` or `--api-key`) unless `--insecure-no-auth` says it may run
open; the fault-injection admin routes (`/_engine/*`) exist only with `--enable-faults`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    p = sub.add_parser("engine", help="serve the local /v1/videos preview engine (procedural previews)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--api-key",
        default=None,
        help="require this bearer key (prefer SORA_ENGINE_API_KEY: a flag shows in the process list)",
    )
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve with no key at all: any local process may read, create and delete clips",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        metavar="NAME",
        help="also accept this Host/Origin name ('name' or 'name:port'; repeatable; "
        "127.0.0.1, localhost and [::1] always are)",
    )
    p.add_argument(
        "--enable-faults",
        action="store_true",
        help="serve the /_engine admin routes (request log, fault knobs) for tests; needs a key",
    )
    p.add_argument("--data-dir", type=Path, default=None, help="where jobs and clips are kept")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from sora_mcp.cli.serve import configure_logging
    from sora_mcp.cli.usage import UsageError
    from sora_mcp.config import Settings
    from sora_mcp.engine import EngineConfig, check_can_serve, serve_forever

    overrides: dict[str, Any] = {"data_dir": args.data_dir or Settings().engine_dir}
    if args.api_key:
        overrides["api_key"] = args.api_key
    if args.enable_faults:
        overrides["faults_enabled"] = True
    try:
        config = EngineConfig.from_env(**overrides)
        if args.allowed_host:
            config = config.model_copy(update={"allowed_hosts": [*config.allowed_hosts, *args.allowed_host]})
        check_can_serve(config, insecure_no_auth=args.insecure_no_auth)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise UsageError(f"invalid engine setting{' ' + where if where else ''}: {message}") from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    configure_logging("INFO")
    serve_forever(config, args.host, args.port, insecure_no_auth=args.insecure_no_auth)
    return 0

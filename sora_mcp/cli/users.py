"""`sora-mcp users add NAME`: a new user of the HTTP server, in the tokens file.

The new token is printed once, on stdout, and written nowhere: the file keeps only its sha256
(see `server/http/users.py`). The server re-reads the file when it changes, so a user added
(or an entry removed, which revokes its tokens) takes effect at the next request.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from sora_mcp.cli.usage import UsageError, ranged


def add_parser(sub: Any) -> None:
    p = sub.add_parser("users", help="manage the users of an HTTP server (the tokens file)")
    users = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = users.add_parser("add", help="add a user; prints their new token once")
    add.add_argument("name", help="the user id (1-64 letters, digits, '_', '.', '@' or '-')")
    add.add_argument(
        "--tokens-file",
        type=Path,
        default=None,
        help="the tokens file serve reads (default: SORA_MCP_TOKENS_FILE)",
    )
    add.add_argument("--admin", action="store_true", help="may see and manage every user's jobs")
    for key, what in (("daily", "per UTC day"), ("monthly", "per UTC month"), ("total", "in all")):
        add.add_argument(
            f"--{key}-usd",
            type=ranged(float, 0.0),
            default=None,
            metavar="USD",
            help=f"the user's own budget {what} (default: the server's SORA_MCP_BUDGET_* settings)",
        )
    add.set_defaults(func=run_add)


def tokens_path(given: Path | None) -> Path:
    """The file named on the command line, else SORA_MCP_TOKENS_FILE: the one `serve` reads."""
    if given is not None:
        return given
    if os.environ.get("SORA_MCP_TOKENS_FILE"):
        return Path(os.environ["SORA_MCP_TOKENS_FILE"])
    raise UsageError(
        "Which tokens file? Pass --tokens-file PATH (the same file as serve --tokens-file), "
        "or set SORA_MCP_TOKENS_FILE."
    )


def run_add(args: argparse.Namespace) -> int:
    from sora_mcp.errors import ConfigError
    from sora_mcp.principal import Budget
    from sora_mcp.server.http.users import add_user

    path = tokens_path(args.tokens_file)
    budget = Budget(total_usd=args.total_usd, daily_usd=args.daily_usd, monthly_usd=args.monthly_usd)
    try:
        token = add_user(path, args.name, admin=args.admin, budget=None if budget.empty else budget)
    except ConfigError as exc:
        raise UsageError(f"{exc.message} {exc.fix}") from None
    print(token)
    print(
        f"Added user '{args.name}' to {path}. The token above is shown only this once (the file keeps "
        "its sha256): give it to the user; clients send it as 'Authorization: Bearer <token>'.",
        file=sys.stderr,
    )
    return 0

"""`python -m sora_mcp` is the `sora-mcp` command."""

from sora_mcp.cli import main

raise SystemExit(main())

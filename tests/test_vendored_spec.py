"""The vendored specs are byte-exact copies of what tests/spec/README.md says they are."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

SPEC = Path(__file__).resolve().parent / "spec"


def test_every_vendored_file_matches_its_recorded_sha256() -> None:
    rows = re.findall(
        r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", (SPEC / "README.md").read_text(), re.MULTILINE
    )
    assert {name for name, _ in rows} == {"openai-videos.openapi.yaml", "mcp-server.schema.2025-12-11.json"}
    for name, digest in rows:
        assert hashlib.sha256((SPEC / name).read_bytes()).hexdigest() == digest, name

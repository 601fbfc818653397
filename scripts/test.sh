#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs them.
#   - system parts from Debian's packages when missing (needs root or sudo): Chromium for the player's
#     browser test (Playwright drives it and downloads no browser of its own) and PostgreSQL's server
#     binaries for the ledger tests (tests/pg.py starts a throwaway cluster on 127.0.0.1 and removes it);
#   - a venv in .venv with sora-mcp and its test extras, and the npm tools the tests use (package.json:
#     the official mcpb CLI that validates and packs the MCP Bundle);
#   - pytest, with any arguments given here (e.g. -m "not bench").
# Under CI=true a missing system part fails its tests; elsewhere they are skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ -z "$sudo" ] || command -v sudo >/dev/null 2>&1; then
        echo "Installing ${missing[*]} from Debian's packages..." >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "Not installing ${missing[*]} (needs root or sudo): their tests will be skipped." >&2
    fi
fi
python3 -m venv .venv
.venv/bin/pip install -q -e ".[test]"
npm install -s --no-audit --no-fund
exec .venv/bin/python -m pytest -q "$@"

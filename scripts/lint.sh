#!/usr/bin/env bash
# Lint, format and type checks (run by .ci/run after the tests; needs the venv scripts/test.sh makes).
#   ruff check + ruff format --check over the code, tests, benchmarks and scripts;
#   mypy over the package (settings in pyproject.toml: check_untyped_defs).
set -euo pipefail
cd "$(dirname "$0")/.."
paths=(sora_mcp tests bench scripts)
.venv/bin/ruff check "${paths[@]}"
.venv/bin/ruff format --check "${paths[@]}"
.venv/bin/mypy

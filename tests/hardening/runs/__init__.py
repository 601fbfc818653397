"""The hardening helpers and long runs, apart from the tests in `tests/hardening/`.

`*_run.py` modules are runnable sections (`python -m tests.hardening.runs.long_run` runs them all
and rewrites tests/hardening/RESULTS.md); the others are what the tests and the runs share (a
served stack, a `sora-mcp serve` subprocess, hostile files, floods, crash cycles, fuzzing).
"""

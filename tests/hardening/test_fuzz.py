"""Fuzzed calls to every tool: each gets an answer or a readable refusal; nothing leaks or hangs."""

from __future__ import annotations

import json
from pathlib import Path

from sora_mcp.prompting.template import strip_controls
from tests.hardening.runs.common import input_forms, leaks
from tests.hardening.runs.fuzz_session import fuzz_session

EXPECTED_TOOLS = {
    "create_video",
    "remix_video",
    "extend_video",
    "edit_video",
    "get_status",
    "list_videos",
    "download_asset",
    "delete_video",
}


def test_fuzzed_calls_answer_readably_without_leaks(tmp_path: Path) -> None:
    tally, facts = fuzz_session(tmp_path, examples=300, seed=8)
    print(tally.summary())
    assert EXPECTED_TOOLS <= set(facts["tools"])
    assert tally.calls == 300
    assert tally.hung == [], tally.hung
    assert tally.masked == [], "\n".join(tally.masked[:10])
    assert tally.leaked == [], "\n".join(tally.leaked[:10])
    assert all(facts["alive"]), "the server stopped answering"
    assert facts["tmp_left"] == [], "temp files survived"
    assert tally.refused > 50 and tally.ok > 10, tally.summary()  # the fuzzer reached both outcomes


def test_leak_scan_accepts_an_echoed_prompt_and_flags_any_other_path(tmp_path: Path) -> None:
    # Found by the long run: a dry run echoes the prompt with its control characters removed,
    # which is the caller's own text, not a host path; a path the caller never sent still counts.
    prompt = "/root/root/x.png/~/inputs/passwd/root/\x00/root/x.png"
    answer = json.dumps({"prompt": strip_controls(prompt)})
    assert leaks(answer, data_dir=tmp_path, echoed=input_forms({"prompt": prompt})) == []
    planted = json.dumps({"prompt": strip_controls(prompt), "detail": "/usr/lib/python3/secret.py"})
    assert leaks(planted, data_dir=tmp_path, echoed=input_forms({"prompt": prompt})) == [
        "host path '/usr/lib/python3/secret.py'"
    ]

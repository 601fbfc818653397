"""Fuzzed calls to every tool: each gets an answer or a readable refusal; nothing leaks or hangs."""

from __future__ import annotations

from pathlib import Path

from tests.hardening.fuzz_session import fuzz_session

EXPECTED_TOOLS = {"create_video", "remix_video", "extend_video", "edit_video", "get_status", "list_videos",
                  "download_asset", "delete_video"}


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

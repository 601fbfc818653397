"""The README's OpenRouter set-up, word for word, then its flow, against the OpenRouter fake.

The two lines are read from README.md itself (the bash block under "Real video with one key:
OpenRouter"), so the README cannot drift from what is tested. Its `export` line sets the
environment (the placeholder key replaced by the fake's key) and its commands run as written.
Two things are added, and only these: `SORA_MCP_BASE_URL` pointing at the fake (the real
openrouter.ai cannot be reached from a test; the dialect would otherwise imply it, which the
first test checks) and a data directory inside the test's temp folder.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from sora_mcp.config import Settings
from tests.backends.fakes import FakeServer
from tests.cli.conftest import Cli
from tests.dialects.fake_hosted import FakeOpenRouter

README = Path(__file__).resolve().parents[2] / "README.md"
KEY = "sk-or-v1-readme-test-0123456789"


def _readme_block() -> tuple[dict[str, str], list[list[str]]]:
    """(the variables the README exports, the commands it runs) from its OpenRouter block."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Real video with one key: OpenRouter", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the README's OpenRouter section lost its bash block"
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2, f"the README promises a two-line set-up, found {len(lines)} lines"
    export = shlex.split(lines[0], comments=True)
    assert export[0] == "export"
    env = dict(word.split("=", 1) for word in export[1:])
    commands = [shlex.split(part) for part in lines[1].split("&&")]
    assert all(cmd[0] == "sora-mcp" for cmd in commands)
    return env, commands


def _with_key(env: dict[str, str], key_var: str) -> dict[str, str]:
    """The README's variables with its placeholder key (`sk-or-...`) replaced by a real one."""
    assert env["SORA_MCP_API_KEY"] == "sk-or-...", "the README's placeholder key changed"
    out = {k: v for k, v in env.items() if k != "SORA_MCP_API_KEY"}
    out[key_var] = KEY
    return out


def test_the_readme_variables_alone_point_at_openrouter(monkeypatch: pytest.MonkeyPatch) -> None:
    env, _ = _readme_block()
    assert env.keys() == {"SORA_MCP_DIALECT", "SORA_MCP_API_KEY"}
    for name in ("SORA_MCP_BASE_URL", "SORA_MCP_API_KEY", "OPENROUTER_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for key_var in ("SORA_MCP_API_KEY", "OPENROUTER_API_KEY"):  # the README's "(or OPENROUTER_API_KEY)"
        for name, value in _with_key(env, key_var).items():
            monkeypatch.setenv(name, value)
        settings = Settings(data_dir=Path("unused"))
        assert settings.base_url == "https://openrouter.ai/api/v1"
        assert settings.api_key is not None and settings.api_key.get_secret_value() == KEY
        monkeypatch.delenv(key_var)


@pytest.mark.parametrize("key_var", ["SORA_MCP_API_KEY", "OPENROUTER_API_KEY"])
def test_the_readme_flow_end_to_end(tmp_path: Path, mp4: bytes, key_var: str) -> None:
    env, commands = _readme_block()
    fake = FakeOpenRouter(api_key=KEY)
    fake.use_mp4(mp4)
    with FakeServer(fake) as server:
        cli = Cli(tmp_path, f"{server.origin}/api/v1")
        del cli.env["SORA_MCP_API_KEY"]  # only the README's variables carry the key
        cli.env.update(_with_key(env, key_var))
        results = []
        for cmd in commands:  # `a && b`: each must succeed before the next runs
            result = cli(*cmd[1:], timeout=120)
            assert result.code == 0, f"{shlex.join(cmd)} failed: {result.stderr}"
            results.append(result)
    doctor, created = results
    assert "usable" in doctor.stdout and "UNUSABLE" not in doctor.stdout
    assert "google/veo-3.1" in doctor.stdout and "4, 6, 8" in doctor.stdout

    # The create went out in OpenRouter's own fields, once, and the clip came back whole.
    posts = [p for m, p, _ in fake.log if m == "POST"]
    assert posts == ["/api/v1/videos"]
    body = fake.bodies[0]
    assert (body["model"], body["resolution"], body["aspect_ratio"], body["duration"]) == (
        "google/veo-3.1",
        "720p",
        "16:9",
        4,
    )
    job = created.json()
    assert job["status"] == "completed" and job["backend"] == "openrouter"
    assert job["quote"]["usd"] == pytest.approx(1.44) and "billed" in job["quote"]["note"]
    saved = re.search(r"Saved video to (\S+)", created.stderr)
    assert saved is not None, created.stderr
    path = Path(saved.group(1))
    path = path if path.is_absolute() else tmp_path / path
    assert path.read_bytes() == mp4
    assert path.resolve().is_relative_to((tmp_path / "data").resolve())  # kept in the library
    # Every authorised request carried the README's key; no output ever shows it.
    sent = {h.get("authorization") for _, path, h in fake.log if path.startswith("/api/v1/videos/job-")}
    assert sent == {f"Bearer {KEY}"}
    for result in results:
        assert KEY not in result.stdout + result.stderr


def test_the_readme_doctor_rows_are_what_doctor_reports(tmp_path: Path) -> None:
    """The README's example of doctor's model table (against this fake) matches `doctor --json`."""
    text = README.read_text(encoding="utf-8").split("What `sora-mcp doctor` reports", 1)[1]
    rows = {}
    for line in text.split("**Together AI**", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    assert rows.keys() == {"google/veo-3.1", "alibaba/wan-2.6"}
    with FakeServer(FakeOpenRouter(api_key=KEY)) as server:
        cli = Cli(tmp_path, f"{server.origin}/api/v1", SORA_MCP_DIALECT="openrouter", SORA_MCP_API_KEY=KEY)
        result = cli("doctor", "--json")
    assert result.code == 0, result.stderr
    models = {m["id"]: m for m in result.json()[0]["models"]}
    for model, (_, sizes, seconds, _, prices) in rows.items():
        assert sizes == ", ".join(models[model]["sizes"]) and seconds == models[model]["seconds"]
        listed = {f"{p:.2f}" for p in models[model]["usd_per_second"].values()}
        assert listed == set(re.findall(r"\d+\.\d\d", prices))

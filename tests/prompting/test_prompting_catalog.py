"""The model catalog: validation messages, frame limits, quotes and user catalog files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sora_mcp.errors import ConfigError, InvalidInput
from sora_mcp.prompting import Catalog

SPEC = Path(__file__).resolve().parents[1] / "spec" / "openai-videos.openapi.yaml"
WAN = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def test_builtin_entries_have_sources_and_durations(catalog: Catalog) -> None:
    ids = catalog.names()
    for needed in ("sora-2", "sora-2-pro", WAN, "Wan-AI/Wan2.2-T2V-A14B-Diffusers", "Lightricks/LTX-2"):
        assert needed in ids
    for m in catalog.models():
        assert len(m.source) > 30
        assert m.seconds or (m.max_frames and m.fps)


def test_every_openai_model_name_in_the_spec_resolves(catalog: Catalog) -> None:
    spec = yaml.safe_load(SPEC.read_text())
    enum = spec["components"]["schemas"]["VideoModel"]["anyOf"][1]["enum"]
    assert all(catalog.get(name) is not None for name in enum)
    assert catalog.get("sora-2-pro-2025-10-06").id == "sora-2-pro"
    sizes = spec["components"]["schemas"]["VideoSize"]["enum"]
    assert sorted(catalog.get("sora-2-pro").sizes) == sorted(sizes)
    assert catalog.get("sora-2").seconds == spec["components"]["schemas"]["VideoSeconds"]["enum"]


def test_valid_request_normalises_seconds(catalog: Catalog) -> None:
    v = catalog.validate("sora-2", "1280X720", 4)
    assert (v.model, v.size, v.seconds, v.known, v.note) == ("sora-2", "1280x720", "4", True, None)
    assert catalog.validate("sora-2-pro", "1792x1024", " 12 ").seconds == "12"


def test_bad_size_lists_exactly_that_models_sizes(catalog: Catalog) -> None:
    with pytest.raises(InvalidInput) as err:
        catalog.validate("sora-2", "1792x1024", 4)
    msg = str(err.value)
    assert "Allowed sizes: 1280x720, 720x1280." in msg
    assert "sora-2-pro" in msg  # where that size is available
    with pytest.raises(InvalidInput, match="Allowed sizes: 1280x720, 720x1280, 1024x1792, 1792x1024"):
        catalog.validate("sora-2-pro", "640x480", 4)


@pytest.mark.parametrize("seconds", [5, "16", 0])
def test_bad_seconds_lists_allowed(catalog: Catalog, seconds: object) -> None:
    with pytest.raises(InvalidInput, match="Allowed seconds: 4, 8, 12"):
        catalog.validate("sora-2", "1280x720", seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", ["4s", "4.0", True, 4.0, "-4", "４"])
def test_non_integer_seconds_refused(catalog: Catalog, seconds: object) -> None:
    with pytest.raises(InvalidInput, match="whole number"):
        catalog.validate("sora-2", "1280x720", seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize("size", ["1280", "1280x", "1x1", "1280x720x3", "big"])
def test_malformed_size_refused(catalog: Catalog, size: str) -> None:
    with pytest.raises(InvalidInput, match="WIDTHxHEIGHT"):
        catalog.validate("someone/unknown", size, 4)


def test_unknown_model_strict_is_refused_with_the_ways_out(catalog: Catalog) -> None:
    with pytest.raises(InvalidInput) as err:
        catalog.validate("acme/video-9", "1280x720", 4, strict=True)
    msg = str(err.value)
    assert "acme/video-9" in msg and "sora-2-pro" in msg and WAN in msg
    assert "SORA_MCP_CATALOG" in msg and "SORA_MCP_STRICT_MODELS" in msg


def test_unknown_model_lenient_passes_with_visible_note(catalog: Catalog) -> None:
    v = catalog.validate("acme/video-9", "1000x500", "30")
    assert not v.known and v.seconds == "30" and "not in the catalog" in (v.note or "")
    with pytest.raises(InvalidInput, match="1..60"):
        catalog.validate("acme/video-9", "1000x500", 61)


def test_frame_limited_model_states_max_seconds(catalog: Catalog) -> None:
    assert catalog.validate(WAN, "832x480", 5).seconds == "5"  # 80 frames at 16 fps <= 81
    with pytest.raises(InvalidInput, match="at most 81 frames at 16 fps, so at most 5 seconds"):
        catalog.validate(WAN, "832x480", 6)
    assert catalog.validate("tencent/HunyuanVideo", "960x544", 5).known
    with pytest.raises(InvalidInput, match="at most 5 seconds"):
        catalog.validate("hunyuanvideo-community/HunyuanVideo", "960x544", 6)
    with pytest.raises(InvalidInput, match="Allowed sizes: 832x480, 480x832"):
        catalog.validate(WAN, "1280x720", 4)


def test_multiple_of_rule_and_unverified_note(catalog: Catalog) -> None:
    v = catalog.validate("Lightricks/LTX-2", "640x384", 3)
    assert "unverified" in (v.note or "")
    with pytest.raises(InvalidInput, match="multiples of 32"):
        catalog.validate("Lightricks/LTX-2", "650x384", 3)


def test_kinds_extend_remix_edit(catalog: Catalog) -> None:
    assert catalog.validate("sora-2", "1280x720", 20, kind="extend").seconds == "20"
    with pytest.raises(InvalidInput, match="4, 8, 12, 16, 20"):
        catalog.validate("sora-2", "1280x720", 24, kind="extend")
    remix = catalog.validate("sora-2", None, None, kind="remix")
    assert remix.size is None and remix.seconds is None
    with pytest.raises(InvalidInput, match="cannot remix"):
        catalog.validate(WAN, None, None, kind="remix")


def test_create_defaults_and_per_model_prompt_limit(catalog: Catalog) -> None:
    v = catalog.validate("sora-2", None, None)
    assert (v.size, v.seconds) == ("1280x720", "4")
    with pytest.raises(InvalidInput, match="at most 32000"):
        catalog.validate("sora-2", "1280x720", 4, prompt="x" * 32001)


def test_quotes(catalog: Catalog) -> None:
    q = catalog.quote("sora-2", "1280x720", 4, engine=False)
    assert q.usd == pytest.approx(0.40) and q.seconds == "4" and "$0.10/s" in q.note
    assert catalog.quote("sora-2-pro", "1792x1024", "8", engine=False).usd == pytest.approx(4.00)
    assert catalog.quote("sora-2-pro", "720x1280", 12, engine=False).usd == pytest.approx(3.60)
    assert catalog.quote("sora-2-2025-12-08", "720x1280", 8, engine=False).usd == pytest.approx(0.80)
    free = catalog.quote("sora-2-pro", "1792x1024", 12, engine=True)
    assert free.usd == 0.0 and free.note == "embedded engine: free local preview"
    assert catalog.quote("sora-2", "1280x720", 4, backend_is_engine=True).usd == 0.0
    open_model = catalog.quote(WAN, "832x480", 5, engine=False)
    assert open_model.usd is None and "no published price" in open_model.note
    unknown = catalog.quote("acme/video-9", "1280x720", 4, engine=False)
    assert unknown.usd is None and "not in the catalog" in unknown.note


def test_supports(catalog: Catalog) -> None:
    assert catalog.supports("sora-2", "remix") is True
    assert catalog.supports(WAN, "remix") is False
    assert catalog.supports("Wan-AI/Wan2.2-TI2V-5B-Diffusers", "input_reference") is True
    assert catalog.supports("acme/video-9", "remix") is None


def test_views_for_the_models_resource(catalog: Catalog) -> None:
    md = catalog.as_markdown()
    assert all(m.id in md for m in catalog.models()) and "## Sources" in md
    assert "$0" in md and "no published price" in md
    data = json.loads(json.dumps(catalog.as_dict()))
    assert {m["id"] for m in data["models"]} == set(catalog.names())


def test_user_json_adds_and_merges_overrides(tmp_path: Path) -> None:
    f = tmp_path / "mine.json"
    f.write_text(
        json.dumps(
            {
                "models": [
                    {
                        "id": "acme/video-9",
                        "sizes": ["1024x576"],
                        "seconds": [5, 10],
                        "source": "acme docs 2026",
                    },
                    {"id": "sora-2-2025-12-08", "price_usd_per_second": {"1280x720": 0.2}},
                ]
            }
        )
    )
    cat = Catalog.load(f)
    assert cat.validate("acme/video-9", "1024x576", 10, strict=True).known
    with pytest.raises(InvalidInput, match="Allowed seconds: 5, 10"):
        cat.validate("acme/video-9", "1024x576", 4)
    assert cat.quote("sora-2", "1280x720", 4).usd == pytest.approx(0.8)  # override by alias
    assert cat.quote("sora-2", "720x1280", 4).usd == pytest.approx(0.4)  # other prices kept
    assert cat.get("sora-2").sizes == ["1280x720", "720x1280"]
    assert "mine.json" in cat.as_markdown()


def test_user_toml_file(tmp_path: Path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text(
        '[[models]]\nid = "local/tiny-video"\nsizes = ["512x512"]\nmax_frames = 49\nfps = 8\n'
        'source = "my lab notes"\n[models.supports]\ninput_reference = true\n'
    )
    cat = Catalog.load(f)
    assert cat.validate("local/tiny-video", "512x512", 6).seconds == "6"
    with pytest.raises(InvalidInput, match="at most 6 seconds"):
        cat.validate("local/tiny-video", "512x512", 7)
    assert cat.supports("local/tiny-video", "input_reference") is True


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("broken.json", '{"models": [', "JSON error at line 1"),
        ("broken.toml", "[[models]\nid=", "TOML error"),
        ("empty.json", "{}", "'models' list"),
        ("bad.json", '{"models": [{"id": "x", "sizes": ["big"], "seconds": [4], "source": "s"}]}', "sizes"),
        ("nodur.json", '{"models": [{"id": "x", "sizes": ["64x64"], "source": "s"}]}', "max_frames"),
        ("typo.json", '{"models": [{"id": "sora-2", "sizez": ["64x64"]}]}', "sizez"),
        ("cat.yaml", "models: []", ".json or .toml"),
    ],
)
def test_bad_user_file_is_a_config_error_naming_the_file(
    tmp_path: Path, name: str, content: str, problem: str
) -> None:
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(ConfigError) as err:
        Catalog.load(f)
    msg = str(err.value)
    assert name in msg and problem in msg and "SORA_MCP_CATALOG" in msg
    assert str(tmp_path) not in msg


def test_missing_user_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'gone.json' .*does not exist"):
        Catalog.load(tmp_path / "gone.json")

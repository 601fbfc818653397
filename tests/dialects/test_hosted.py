"""The hosted providers' conversions: sizes to their fields and back, and a video-models answer
(shaped as OpenRouter's docs show it) read into catalog entries the catalog accepts."""

from __future__ import annotations

from sora_mcp.backends.dialects import DIALECTS, normalize_video
from sora_mcp.backends.hosted import aspect_of, catalog_entries, size_fields, size_of
from sora_mcp.prompting import Catalog


def test_sizes_map_both_ways() -> None:
    assert (aspect_of("1280x720"), aspect_of("720x1280"), aspect_of("1024x1024")) == ("16:9", "9:16", "1:1")
    assert size_of("720p", "16:9") == "1280x720" and size_of("1080p", "9:16") == "1080x1920"
    assert size_of("2K", "16:9") is None  # no pixel count in the label: only a listed size can say
    assert size_fields("resolution_aspect", "1920x1080") == {"resolution": "1080p", "aspect_ratio": "16:9"}
    assert size_fields("width_height", "1280x720") == {"width": 1280, "height": 720}
    assert size_fields("size", "1280x720") == {"size": "1280x720"}
    # The provider's own labels win: a size it listed as 2K goes back as 2K.
    assert size_fields("resolution_aspect", "2560x1440", {"2560x1440": ("2K", "16:9")})["resolution"] == "2K"


def test_a_video_models_answer_becomes_the_catalog() -> None:
    body = {
        "data": [
            {
                "id": "google/veo-3.1",
                "supported_resolutions": ["720p", "1080p"],
                "supported_aspect_ratios": ["16:9"],
                "supported_durations": [8, 4, 6],
                "supported_frame_images": ["first_frame"],
                "generate_audio": True,
                "pricing_skus": {"per-video-second": "0.40", "per-video-second-1080p": "0.60"},
            },
            {
                "id": "minimax/hailuo-3",
                "supported_resolutions": ["2K"],
                "supported_aspect_ratios": ["16:9"],
                "supported_sizes": ["2560x1440"],
                "pricing_skus": {"per-video-second": "0.10"},
            },
            {"id": "broken/model", "supported_resolutions": ["2K"]},  # nothing to derive a size from
            {"id": "other/veo-3.1"},
        ]
    }
    entries, labels = catalog_entries(body, label="openrouter", source="test")
    assert [e["id"] for e in entries] == ["google/veo-3.1", "minimax/hailuo-3"]
    catalog = Catalog.from_provider(entries, provider="OpenRouter")
    veo = catalog.get("veo-3.1")  # the short name is an alias when only one model has it
    assert veo is not None and veo.seconds == ["4", "6", "8"] and veo.sizes == ["1280x720", "1920x1080"]
    assert veo.price_usd_per_second == {"1280x720": 0.4, "1920x1080": 0.6}
    assert veo.supports.input_reference and veo.supports.audio
    hailuo = catalog.get("minimax/hailuo-3")
    assert hailuo is not None and not hailuo.verified and hailuo.max_seconds == 60  # no durations given
    assert labels["minimax/hailuo-3"]["2560x1440"] == ("2K", "16:9")
    assert catalog.quote("google/veo-3.1", "1920x1080", "8").usd == 4.8


def test_openrouter_statuses_and_cost() -> None:
    dialect = DIALECTS["openrouter"]
    expired = normalize_video({"id": "j", "status": "expired", "error": "gone"}, dialect=dialect)
    assert expired.status == "failed" and expired.error is not None and expired.error.code == "expired"
    assert "the provider said: gone" in expired.error.message
    generic = normalize_video({"id": "j", "status": "expired"})
    assert generic.status == "expired"  # elsewhere it keeps OpenAI's meaning
    done = normalize_video(
        {
            "id": "j",
            "status": "completed",
            "unsigned_urls": ["https://a/x"],
            "urls": ["https://b/signed"],
            "usage": {"cost": 0.25},
        },
        dialect=dialect,
    )
    assert (done.video_url, done.cost_usd) == ("https://b/signed", 0.25)
    together = normalize_video(
        {"id": "t", "status": "completed", "outputs": {"cost": 0.3, "video_url": "https://c/v"}}
    )
    assert (together.video_url, together.cost_usd) == ("https://c/v", 0.3)

"""The preview renderer, called directly: real MP4/WebP/JPEG files checked with PyAV and Pillow."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from sora_mcp.engine.render import RenderError, RenderSpec, render
from sora_mcp.engine.render.layers import planes_of
from sora_mcp.engine.render.plan import camera_move, parse_beats, plan_prompt
from sora_mcp.engine.render.pool import FRAMES
from sora_mcp.engine.render.scene import build_scene

SMALL = (320, 180)

STRUCTURED = """Primary request: A paper boat drifts down a rain-soaked street
Scene/background: narrow cobbled street at night, puddles
Camera: static, locked off at curb height
Lighting/mood: neon reflections, moody
Color palette: {palette}
Timing/beats: 0-1s: boat enters; 1-2s: boat spins in a puddle
"""


def spec(
    prompt: str, seconds: int = 1, size: tuple[int, int] = SMALL, seed: int = 7, **kw: object
) -> RenderSpec:
    return RenderSpec(prompt=prompt, width=size[0], height=size[1], seconds=seconds, seed=seed, **kw)  # type: ignore[arg-type]


def frames_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_size_clip_is_a_real_h264_mp4_with_stills(tmp_path: Path) -> None:
    result = render(
        spec(STRUCTURED.format(palette="teal, amber") + "Audio: rain, soft synth pad", 4, (720, 1280)),
        tmp_path,
    )
    assert (result.frames, result.has_audio) == (96, True)
    with av.open(str(result.video)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (video.width, video.height, video.average_rate) == (720, 1280, 24)
        assert abs(container.duration / av.time_base - 4.0) <= 1 / 24
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        assert sum(1 for _ in container.decode(video=0)) == 96
    assert result.video.read_bytes()[4:8] == b"ftyp"
    assert result.video.read_bytes().find(b"moov") < result.video.read_bytes().find(b"mdat")  # faststart
    with Image.open(result.thumbnail) as thumb:
        assert (thumb.format, thumb.size) == ("WEBP", (720, 1280))
    with Image.open(result.spritesheet) as sheet:
        assert sheet.format == "JPEG"
        assert sheet.size == (4 * 180, 4 * 320)  # 16 tiles, each a quarter of the frame
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spritesheet.jpg", "thumbnail.webp", "video.mp4"]


def test_stills_show_the_clips_own_frames(tmp_path: Path) -> None:
    """The thumbnail is the frame a third of the way in and each tile its frame shrunk: both in
    the clip's colours (the WebP is encoded from the same limited-range YUV the MP4 gets)."""
    result = render(spec(STRUCTURED.format(palette="crimson, teal, gold"), 2, (640, 360)), tmp_path)
    frames = frames_rgb(result.video)
    with Image.open(result.thumbnail) as thumb:
        thumbnail = np.asarray(thumb.convert("RGB"), np.int16)
    errors = [float(np.abs(thumbnail - frame).mean()) for frame in frames]
    assert int(np.argmin(errors)) == len(frames) // 3
    assert errors[len(frames) // 3] < 4  # lossy both ways, but the same picture and colours
    with Image.open(result.spritesheet) as sheet:
        tiles = np.asarray(sheet.convert("RGB"), np.int16)
    tw, th = 640 // 4, 360 // 4
    for k, index in ((0, 0), (15, len(frames) - 1)):
        tile = tiles[(k // 4) * th : (k // 4 + 1) * th, (k % 4) * tw : (k % 4 + 1) * tw]
        small = frames[index].reshape(th, 4, tw, 4, 3).mean(axis=(1, 3))
        assert float(np.abs(tile - small).mean()) < 6, k


@pytest.mark.parametrize(
    ("extra", "audio"),
    [
        ("", False),
        ("Audio: distant thunder", True),
        ('Dialogue:\n- Ana: "Look!"\n- Ben: "It floats."', True),
        ("Audio: none", False),
    ],
)
def test_audio_track_exactly_when_the_prompt_asks(tmp_path: Path, extra: str, audio: bool) -> None:
    result = render(spec(STRUCTURED.format(palette="red, blue") + extra, 2), tmp_path)
    assert result.has_audio is audio
    with av.open(str(result.video)) as container:
        assert len(container.streams.audio) == (1 if audio else 0)
        assert abs(container.duration / av.time_base - 2.0) <= 1 / 24
        if audio:
            samples = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
            assert np.abs(samples).max() > 0.05  # audible, not a silent placeholder


def test_same_spec_gives_the_same_bytes(tmp_path: Path) -> None:
    s = spec(STRUCTURED.format(palette="gold, navy") + "Audio: waves", 1, (640, 360))
    a, b = render(s, tmp_path / "a"), render(s, tmp_path / "b")
    for first, second in ((a.video, b.video), (a.thumbnail, b.thumbnail), (a.spritesheet, b.spritesheet)):
        assert sha(first) == sha(second)
    assert sha(render(spec(s.prompt, 1, (640, 360), seed=8), tmp_path / "c").video) != sha(a.video)


def test_what_pooled_frames_held_never_shows(tmp_path: Path) -> None:
    """Renders draw into frames kept from earlier renders: fill those with noise and nothing changes."""
    s = spec(
        "A lighthouse on a cliff\nCamera: slow push-in\nTiming/beats: 0-1s: the beam sweeps", 1, (640, 360)
    )
    first = render(s, tmp_path / "a")
    pooled = []
    while (frame := FRAMES.take(640, 360)) is not None:
        pooled.append(frame)
    assert pooled, "a render leaves its frames in the pool"
    rng = np.random.default_rng(0)
    for frame in pooled:
        for plane in planes_of(frame):
            plane[...] = rng.integers(0, 256, plane.shape, dtype=np.uint8)
    FRAMES.give(pooled)
    again = render(s, tmp_path / "b")
    for a, b in (
        (first.video, again.video),
        (first.thumbnail, again.thumbnail),
        (first.spritesheet, again.spritesheet),
    ):
        assert sha(a) == sha(b)


def test_zooms_on_a_procedural_plate_match_the_full_size_plate() -> None:
    """Zoom steps resample a half-size plate when the plate is procedural (no finer detail to lose)."""
    plan = plan_prompt("A lighthouse on a cliff\nCamera: slow push-in\nColor palette: teal, amber, cream", 4)
    scene = build_scene(plan, 1280, 720, 96, 24, 3, None)
    assert len({r.w // 2 % 2 for r in scene._camera_path().rects}) == 2  # odd and even half-size crops
    full = replace(scene, drawing=None)  # the same plate, zoomed from its full size
    assert scene.drawing is not None
    rects = [r for r in scene._camera_path().rects if (r.w, r.h) != (1280, 720)]
    assert len(set(rects)) > 20
    for rect in rects[:: len(rects) // 5]:
        for half, whole in zip(planes_of(scene._scaled(rect)), planes_of(full._scaled(rect))):
            error = np.mean((half.astype(np.float64) - whole) ** 2)
            psnr = 10 * np.log10(255**2 / error) if error else np.inf
            assert psnr > 45, (rect, psnr)  # in every plane, whatever the rectangle's parity


def test_concurrent_renders_match_sequential_ones(tmp_path: Path) -> None:
    """The engine renders on two worker threads at once; neither may disturb the other's bytes."""
    from concurrent.futures import ThreadPoolExecutor

    specs = [spec("A harbour at dawn\nCamera: slow push-in\nAudio: gulls", 1, seed=s) for s in (1, 2)]
    alone = [sha(render(s, tmp_path / f"alone{i}").video) for i, s in enumerate(specs)]
    with ThreadPoolExecutor(2) as pool:
        together = list(
            pool.map(lambda a: sha(render(a[1], tmp_path / f"pool{a[0]}").video), enumerate(specs))
        )
    assert together == alone and alone[0] != alone[1]


def _motion_mask(path: Path) -> np.ndarray:
    """Pixels that change between frames 30 and 31: with a static camera, the moving shapes."""
    frames = frames_rgb(path)
    return np.abs(frames[31] - frames[30]).sum(axis=2) > 30


def test_remix_keeps_layout_and_motion_but_changes_colours_and_text(tmp_path: Path) -> None:
    original = render(spec(STRUCTURED.format(palette="teal, orange"), 2), tmp_path / "o")
    remix_prompt = STRUCTURED.format(palette="purple, yellow").replace("paper boat", "toy duck")
    remix = render(spec(remix_prompt, 2), tmp_path / "r")
    other_seed = render(spec(STRUCTURED.format(palette="teal, orange"), 2, seed=99), tmp_path / "s")
    assert sha(remix.video) != sha(original.video)
    assert np.abs(frames_rgb(remix.video)[40] - frames_rgb(original.video)[40]).mean() > 10  # recoloured
    base, same, other = (
        _motion_mask(original.video),
        _motion_mask(remix.video),
        _motion_mask(other_seed.video),
    )

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        return float((a & b).sum() / max(1, (a | b).sum()))

    assert base.sum() > 50
    assert iou(base, same) > 0.5
    assert iou(base, other) < 0.25


def test_consecutive_frames_always_differ(tmp_path: Path) -> None:
    for camera in ("static", "slow push-in", "pan left", "orbit", "handheld", ""):
        result = render(spec(f"A lighthouse at dusk\nCamera: {camera}", 1), tmp_path / (camera or "default"))
        frames = frames_rgb(result.video)
        assert len(frames) == 24
        assert all(np.abs(frames[i + 1] - frames[i]).mean() > 0.05 for i in range(23)), camera


def test_palette_colours_show_up(tmp_path: Path) -> None:
    def share_near(path: Path, colour: tuple[int, int, int]) -> float:
        frame = frames_rgb(path)[-1]
        return float((np.abs(frame - np.array(colour)).sum(axis=2) < 90).mean())

    red_blue = render(spec("A kite over a field\nColor palette: red, blue", 1), tmp_path / "rb").video
    green_yellow = render(spec("A kite over a field\nColor palette: green, yellow", 1), tmp_path / "gy").video
    assert share_near(red_blue, (210, 40, 40)) > 0.05
    assert share_near(red_blue, (40, 90, 200)) > 0.05
    assert share_near(green_yellow, (210, 40, 40)) < 0.01


def test_input_reference_is_the_background_plate(tmp_path: Path) -> None:
    plate = tmp_path / "plate.png"
    Image.new("RGB", (400, 300), (30, 160, 90)).save(plate)
    result = render(spec("A quiet meadow", 1, input_reference=plate), tmp_path / "out")
    median = np.median(frames_rgb(result.video)[-1].reshape(-1, 3), axis=0)
    assert np.abs(median - (30, 160, 90)).max() < 10


def test_extension_continues_from_the_source_last_frame(tmp_path: Path) -> None:
    source = render(spec(STRUCTURED.format(palette="teal, orange") + "Audio: rain", 2), tmp_path / "src")
    result = render(
        spec("The boat sails on\nCamera: slow pan right", 4, source_video=source.video), tmp_path / "ext"
    )
    assert (result.frames, result.has_audio) == (96, True)
    old, new = frames_rgb(source.video), frames_rgb(result.video)
    assert len(new) == 96
    assert max(np.abs(a - b).mean() for a, b in zip(old, new[:48])) < 3  # re-encoded, otherwise the same
    seam = np.abs(new[48] - old[-1]).mean()
    assert seam < 6, seam
    assert seam < np.abs(new[48] - old[0]).mean()
    with av.open(str(result.video)) as container:
        assert abs(container.duration / av.time_base - 4.0) <= 1 / 24


@pytest.mark.parametrize(("source_audio", "new_audio"), [(False, True), (False, False), (True, True)])
def test_extension_sound_spans_the_whole_clip_when_either_part_has_some(
    tmp_path: Path, source_audio: bool, new_audio: bool
) -> None:
    source = render(spec("A kite" + ("\nAudio: wind" if source_audio else ""), 1), tmp_path / "src")
    result = render(
        spec("The kite climbs" + ("\nAudio: gulls" if new_audio else ""), 2, source_video=source.video),
        tmp_path / "ext",
    )
    expected = source_audio or new_audio
    assert result.has_audio is expected
    with av.open(str(result.video)) as container:
        assert len(container.streams.audio) == (1 if expected else 0)
        if expected:
            samples = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
            assert abs(len(samples) / 48_000 - 2.0) < 0.05
            first, second = np.abs(samples[:48_000]).max(), np.abs(samples[48_000:]).max()
            assert (bool(first > 0.01), bool(second > 0.01)) == (source_audio, new_audio)


def test_extension_must_be_longer_than_its_source(tmp_path: Path) -> None:
    source = render(spec("A bird", 2), tmp_path / "src")
    with pytest.raises(RenderError, match="more seconds"):
        render(spec("More bird", 2, source_video=source.video), tmp_path / "ext")
    assert not (tmp_path / "ext").exists() or not any((tmp_path / "ext").iterdir())


def test_edit_rerenders_over_the_source_first_frame(tmp_path: Path) -> None:
    plate = tmp_path / "plate.png"
    Image.new("RGB", (320, 180), (200, 60, 40)).save(plate)
    source = render(spec("A red wall", 1, input_reference=plate), tmp_path / "src")
    edit = render(
        spec("Same wall, now with a title\nCamera: static", 1, edit_of=source.video), tmp_path / "edit"
    )
    assert sha(edit.video) != sha(source.video)
    median = np.median(frames_rgb(edit.video)[-1].reshape(-1, 3), axis=0)
    assert np.abs(median - (200, 60, 40)).max() < 15


def test_bad_input_image_raises_render_error_and_leaves_no_files(tmp_path: Path) -> None:
    bad = tmp_path / "in" / "photo.png"
    bad.parent.mkdir()
    bad.write_bytes(b"not an image at all")
    out = tmp_path / "out"
    with pytest.raises(RenderError) as err:
        render(spec("A meadow", 1, input_reference=bad), out)
    assert "photo.png" in str(err.value) and "JPEG, PNG or WebP" in str(err.value)
    assert str(tmp_path) not in str(err.value)
    assert list(out.iterdir()) == []


def test_failure_mid_encode_leaves_no_temp_files(tmp_path: Path) -> None:
    def explode(done: int, total: int) -> None:
        if done > total // 2:
            raise RuntimeError("worker cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        render(spec("A meadow\nAudio: birds", 2), tmp_path, progress=explode)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"size": (321, 180)}, "even number"),
        ({"seconds": 0}, "seconds"),
        ({"source_video": Path("/nowhere/x.mp4")}, "x.mp4"),
    ],
)
def test_invalid_specs_are_refused_with_a_fix(tmp_path: Path, kw: dict, fragment: str) -> None:
    with pytest.raises(RenderError, match=fragment) as err:
        render(spec("A meadow", **kw), tmp_path)
    assert "/nowhere" not in str(err.value)
    assert isinstance(err.value, ValueError)


def test_progress_rises_to_the_total_and_slowdown_slows(tmp_path: Path) -> None:
    import time

    calls: list[tuple[int, int]] = []
    start = time.monotonic()
    render(spec("A meadow", 1), tmp_path, progress=lambda d, t: calls.append((d, t)), slowdown=2.0)
    assert time.monotonic() - start >= 0.9  # (2 - 1) / 24 s for each of 24 frames
    assert len(calls) >= 10
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert calls[-1] == (24, 24)


def test_prompt_reading() -> None:
    plan = plan_prompt(
        "Primary request: A fox\nCamera: slow dolly in\nColor palette: teal and #ff8800\n"
        'Timing/beats: 0-2s: enters; 2-4s: exits\nAvoid: red\nText (verbatim): "OPEN"',
        4,
    )
    assert plan.title == "A fox" and plan.camera == "push_in" and plan.onscreen_text == "OPEN"
    assert plan.palette[:2] == [(20, 130, 130), (255, 136, 0)] and (210, 40, 40) not in plan.palette
    assert [(b.start, b.end, b.text) for b in plan.beats] == [(0, 2, "enters"), (2, 4, "exits")]
    assert not plan.has_audio
    assert [(b.start, b.end) for b in parse_beats("wide shot, close-up, fade out", 6)] == [
        (0, 2),
        (2, 4),
        (4, 6),
    ]
    assert [
        camera_move(c) for c in ("pull back", "pan left", "arc around", "shaky handheld", "", "panorama")
    ] == ["pull_out", "pan_left", "orbit", "handheld", "drift", "drift"]
    plain = plan_prompt("just a cat on a sofa, in pink light", 4)
    assert plain.title == "just a cat on a sofa, in pink light" and plain.palette[0] == (240, 140, 180)

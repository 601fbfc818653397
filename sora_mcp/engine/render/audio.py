"""The preview's sound: a procedural chord pattern (plus 'speech' bursts for dialogue) as mono AAC.

Only prompts with an `Audio:` or `Dialogue:` line get a track. The music is derived from the
prompt's words (key, major/minor, tempo) so different prompts sound different and the same
prompt always sounds the same. `AudioTrack` feeds the AAC encoder; the muxer
(av_interleaved_write_frame) interleaves its packets with the video's by timestamp.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from sora_mcp.engine.render.plan import PromptPlan

RATE = 48_000
LAYOUT = "mono"  # a preview's pad-and-blips track gains nothing from stereo; mono halves the AAC work
_FRAME = 1024  # AAC's frame size
_MINOR_WORDS = ("night", "dark", "sad", "tense", "ominous", "suspense", "melanch", "eerie", "noir", "storm")


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def synthesize(plan: PromptPlan, seconds: float) -> np.ndarray:
    """Mono float32 samples, shape (1, seconds × 48 kHz): pad chords, an arpeggio, dialogue bursts."""
    n = round(seconds * RATE)
    text = (plan.audio or "") + "\n" + "\n".join(plan.dialogue)
    digest = hashlib.sha256(text.encode()).digest()
    root = 45 + digest[0] % 12
    minor = any(w in (text + " " + plan.mood).lower() for w in _MINOR_WORDS)
    steps = (
        [[0, 3, 7], [8, 12, 15], [3, 7, 10], [10, 14, 17]]
        if minor
        else [[0, 4, 7], [7, 11, 14], [9, 12, 16], [5, 9, 12]]
    )
    bpm = 84 + digest[1] % 48
    t = np.arange(n, dtype=np.float64) / RATE
    chord_len = max(1.0, seconds / 4)
    out = np.zeros(n, dtype=np.float64)
    for k in range(int(np.ceil(seconds / chord_len))):
        a, b = int(k * chord_len * RATE), min(n, int((k + 1) * chord_len * RATE))
        seg = t[a:b] - k * chord_len
        env = np.minimum(1.0, seg / 0.15) * np.minimum(1.0, (chord_len - seg) / 0.2).clip(0)
        for note in steps[k % 4]:
            out[a:b] += 0.08 * env * np.sin(2 * np.pi * _hz(root + note) * t[a:b])
    beat = 60.0 / bpm / 2
    for k in range(int(seconds / beat)):  # plucked arpeggio on eighth notes
        a = int(k * beat * RATE)
        b = min(n, a + int(0.4 * RATE))
        seg = t[a:b] - t[a]
        note = root + 12 + steps[int(k * beat / chord_len) % 4][k % 3]
        out[a:b] += 0.12 * np.exp(-seg * 9) * np.sin(2 * np.pi * _hz(note) * seg)
    if plan.dialogue:
        out += _dialogue_bursts(t, seconds, len(plan.dialogue), digest)
    return np.clip(out, -0.95, 0.95).astype(np.float32)[None, :]


def _dialogue_bursts(t: np.ndarray, seconds: float, lines: int, digest: bytes) -> np.ndarray:
    """Syllable-like tone bursts, one phrase per dialogue line, spread over the clip."""
    voice = np.zeros_like(t)
    slot = seconds / lines
    for i in range(lines):
        a, b = int((i * slot + 0.1 * slot) * RATE), int((i + 0.85) * slot * RATE)
        seg = t[a:b] - t[a]
        pitch = 150 + (digest[2 + i % 20] % 80)
        syllables = np.clip(np.sin(2 * np.pi * 4.5 * seg), 0, None) ** 2
        voice[a:b] = (
            0.15 * syllables * (np.sin(2 * np.pi * pitch * seg) + 0.4 * np.sin(4 * np.pi * pitch * seg))
        )
    return voice


def decode_audio(path: Path, seconds: float) -> np.ndarray | None:
    """A source clip's audio as mono 48 kHz float32 of exactly `seconds`, or None if it has none."""
    n = round(seconds * RATE)
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="fltp", layout=LAYOUT, rate=RATE)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    samples = np.concatenate(chunks, axis=1) if chunks else np.zeros((1, 0), np.float32)
    if samples.shape[1] < n:
        samples = np.pad(samples, ((0, 0), (0, n - samples.shape[1])))
    return samples[:, :n].astype(np.float32)


class AudioTrack:
    """An AAC stream in `container`, added before the container's header is written (its first
    mux, or `start_encoding()`).

    `packets(samples)` encodes the samples and yields the packets without muxing, so it can run
    on a thread of its own while the caller muxes (a container is muxed from one thread only);
    `finish(samples)` encodes and muxes them in one go.
    """

    def __init__(self, container: av.container.OutputContainer) -> None:
        self.container = container
        self.stream = container.add_stream("aac", rate=RATE)
        self.stream.layout = LAYOUT
        self.stream.bit_rate = 96_000

    def packets(self, samples: np.ndarray) -> Iterator[av.Packet]:
        for start in range(0, samples.shape[1], _FRAME):
            chunk = samples[:, start : start + _FRAME]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=LAYOUT)
            frame.sample_rate = RATE
            frame.pts = start
            yield from self.stream.encode(frame)
        yield from self.stream.encode(None)

    def finish(self, samples: np.ndarray) -> None:
        for packet in self.packets(samples):
            self.container.mux(packet)

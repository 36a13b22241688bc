"""The narration track: every line's wav placed at its time on one mono track."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..timeline import Timeline
from ..workspace import atomic_path

TRACK_RATE = 24000


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the rate of a 16-bit PCM wav; a clear error when it is missing or broken."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise UsageError(f"narration {path} is not 16-bit PCM")
            raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            channels, rate = w.getnchannels(), w.getframerate()
    except FileNotFoundError:
        raise UsageError(f"narration {path} is missing; run `storymode narrate` again") from None
    except (wave.Error, EOFError) as err:
        raise UsageError(f"narration {path} is not a readable wav ({err}); delete it and run again") from None
    samples = raw.astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """Write mono float samples as 16-bit PCM, atomically."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with atomic_path(Path(path)) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())


def mix_narration(timeline: Timeline, out: Path, target_lufs: float | None = None) -> Path:
    """Place each clip at its start on a silent track as long as the video; optionally bring the whole track
    to target_lufs (peaks under -1.5 dBFS); write it to out."""
    track = np.zeros(int(round(timeline.duration * TRACK_RATE)) + 1, np.float32)
    for clip in timeline.audio:
        samples, rate = read_wav(clip.path)
        if rate != TRACK_RATE:
            positions = np.arange(0, len(samples), rate / TRACK_RATE)
            samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
        start = int(round(clip.start * TRACK_RATE))
        end = min(len(track), start + len(samples))
        track[start:end] += samples[: end - start]
    if target_lufs is not None:
        from ..narrators.loudness import match_loudness

        track = match_loudness(track, TRACK_RATE, target_lufs=target_lufs, ceiling_dbfs=-1.5)
    write_wav(out, track, TRACK_RATE)
    return out

"""WAV files and sample rates, shared by the narrators and the composer: read, write, check, resample."""
from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..timeline import MAX_LINE_S
from ..workspace import atomic_path

TRACK_RATE = 24000
MIN_SAMPLE_RATE = 8_000  # telephone speech; anything lower is a broken or hostile header
MAX_SAMPLE_RATE = 192_000  # studio masters; beyond it resampling costs memory for nothing


def check_rate(rate: int, what: str) -> int:
    """The rate, when it lies in MIN_SAMPLE_RATE..MAX_SAMPLE_RATE; a UsageError naming what has it otherwise."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise UsageError(f"{what} has a sample rate of {rate} Hz; storymode takes {MIN_SAMPLE_RATE // 1000} to "
                         f"{MAX_SAMPLE_RATE // 1000} kHz")
    return rate


def read_wav(path: str | Path, max_seconds: float = MAX_LINE_S) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the rate of a 16-bit PCM wav; a clear error when it is missing, broken, at an odd
    sample rate or longer than max_seconds (both checked from the header, before the samples are read)."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise UsageError(f"narration {path} is not 16-bit PCM")
            channels, rate = w.getnchannels(), check_rate(w.getframerate(), f"narration {path}")
            if w.getnframes() > max_seconds * rate:
                raise UsageError(f"narration {path} is {w.getnframes() / rate:.0f} s long; a line may be at most "
                                 f"{max_seconds:.0f} s. Delete it and run again")
            raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    except FileNotFoundError:
        raise UsageError(f"narration {path} is missing; run `storymode narrate` again") from None
    except (wave.Error, EOFError) as err:
        raise UsageError(f"narration {path} is not a readable wav ({err}); delete it and run again") from None
    samples = raw.astype(np.float32) / 32768.0
    if channels > 1:
        samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1)
    return samples, rate


def resample(samples: np.ndarray, rate: int, target: int = TRACK_RATE) -> np.ndarray:
    """The samples, taken at rate, brought to the target rate by linear interpolation."""
    if rate == target:
        return samples
    positions = np.arange(0, len(samples), check_rate(rate, "a narration clip") / target)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """Write mono float samples as 16-bit PCM, atomically."""
    check_rate(rate, f"the audio for {path}")
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    with atomic_path(Path(path)) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())

"""Per-line level matching so voices don't jump: every line lands near TARGET_LUFS, peaks under -1 dBFS.

Loudness is ITU-R BS.1770-4 integrated loudness as measured by pyloudnorm (MIT), the Python library of the
field (it agrees with ffmpeg's ``ebur128`` filter to about 0.1 LU on speech: tests/test_loudness.py checks it).
It is used in-process because one ffmpeg call per line costs ~33 ms of process start; the story as a whole is
then brought to -16 LUFS by ffmpeg's ``loudnorm`` in the composer.

Lines shorter than one 400 ms block have no gated integrated loudness; such a line is measured repeated end to
end to one block's length (the same mean square), so very short interjections ("Oh!") are matched on the same
scale as long lines.

After the gain, a short look-ahead-free peak limiter (block gain envelope, interpolated, never above
the gain each block needs) keeps sample peaks at or under PEAK_CEILING_DBFS, and a final clip to the
ceiling guarantees no sample ever reaches +-1.0. When a line would need more than MAX_LIMIT_DB of
limiting, its overall gain is lowered instead (a quieter line is better than a squashed one).
"""
from __future__ import annotations

import functools
import math

import numpy as np

TARGET_LUFS = -18.0
PEAK_CEILING_DBFS = -1.0
MAX_LIMIT_DB = 6.0
SILENCE_LUFS = -70.0  # BS.1770's absolute gate: anything quieter is treated as silence and left alone
_BLOCK_S = 0.4


@functools.lru_cache(maxsize=8)
def _meter(rate: int):  # type: ignore[no-untyped-def]
    import pyloudnorm

    return pyloudnorm.Meter(rate, block_size=_BLOCK_S)


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """BS.1770 integrated loudness in LUFS of a mono line; -inf for silence (a UsageError for an odd rate)."""
    from .wav import check_rate

    check_rate(rate, "audio to level")  # the block size and the meter's filters are made from it
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0 or not np.any(x):
        return -math.inf
    block = int(_BLOCK_S * rate) + 1
    if x.size < block:  # shorter than one gating block: measure it repeated to one block (same mean square)
        x = np.tile(x, -(-block // x.size))
    with np.errstate(divide="ignore"):
        loud = float(_meter(rate).integrated_loudness(x))
    return loud if math.isfinite(loud) and loud > SILENCE_LUFS else -math.inf


def _limit(samples: np.ndarray, ceiling: float, rate: int) -> np.ndarray:
    """Smooth gain reduction wherever |x| > ceiling (2.5 ms blocks, widened by one block each side)."""
    size = max(1, int(0.0025 * rate))
    n = len(samples)
    nblocks = -(-n // size)
    padded = np.zeros(nblocks * size, np.float64)
    padded[:n] = np.abs(samples)
    peaks = padded.reshape(nblocks, size).max(axis=1)
    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    widened = need.copy()
    widened[1:] = np.minimum(widened[1:], need[:-1])
    widened[:-1] = np.minimum(widened[:-1], need[1:])
    centres = np.arange(nblocks) * size + size / 2
    envelope = np.interp(np.arange(n), centres, widened)
    return samples * envelope


def match_loudness(samples: np.ndarray, rate: int, target_lufs: float = TARGET_LUFS,
                   ceiling_dbfs: float = PEAK_CEILING_DBFS) -> np.ndarray:
    """The line with a gain that brings it to target_lufs, sample peaks <= ceiling_dbfs, never clipped.

    Silence (or anything under the -70 LUFS gate) comes back unchanged. Same length, float32."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0 or not np.all(np.isfinite(x)):
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    loudness = integrated_loudness(x, rate)
    if not math.isfinite(loudness):
        return x.astype(np.float32)
    ceiling = 10 ** (ceiling_dbfs / 20)
    gain = 10 ** ((target_lufs - loudness) / 20)
    peak = float(np.abs(x).max())
    gain = min(gain, ceiling / peak * 10 ** (MAX_LIMIT_DB / 20))  # at most MAX_LIMIT_DB of limiting
    y = x * gain
    if peak * gain > ceiling:
        y = _limit(y, ceiling, rate)
    return np.clip(y, -ceiling, ceiling).astype(np.float32)

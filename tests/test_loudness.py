"""Per-line level matching: lines land near the same loudness, peaks under -1 dBFS, nothing clipped."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from storymode.cast import load_presets
from storymode.ffmpeg_exe import ffmpeg_exe
from storymode.narrators.hibari import HibariNarrator
from storymode.sound.loudness import TARGET_LUFS, integrated_loudness, match_loudness

RATE = 24000
CEILING = 10 ** (-1 / 20)


@pytest.fixture(scope="module")
def lines():
    narrator, voice = HibariNarrator(), load_presets()["narrator"]
    a = narrator.sentence_audio("The little fox looked up at the wide blue sky.", voice, 1.0)
    b = narrator.sentence_audio("Would she ever fly as high as the geese?", voice, 1.0)
    assert a.rate == b.rate == RATE
    return a.samples, b.samples


def _ffmpeg_lufs(x: np.ndarray) -> float:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostats", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", "pipe:0",
           "-af", "ebur128=framelog=quiet", "-f", "null", "-"]
    err = subprocess.run(cmd, input=x.astype("<f4").tobytes(), capture_output=True, check=True).stderr.decode()
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", err)[-1])


def test_lines_with_very_different_gains_land_together(lines):
    a, b = lines
    quiet = b * 0.1
    assert integrated_loudness(a, RATE) - integrated_loudness(quiet, RATE) > 15
    ma, mb = match_loudness(a, RATE), match_loudness(quiet, RATE)
    la, lb = _ffmpeg_lufs(ma), _ffmpeg_lufs(mb)  # measured by an independent meter
    assert abs(la - lb) < 1.5 and abs(la - TARGET_LUFS) < 1.5
    for m, x in ((ma, a), (mb, quiet)):
        assert len(m) == len(x) and m.dtype == np.float32
        assert np.abs(m).max() <= CEILING + 1e-6  # peak at or under -1 dBFS
        assert not np.any(np.abs(m) >= 1.0)


def test_meter_agrees_with_ffmpeg_ebur128(lines):
    a, _ = lines
    rng = np.random.default_rng(0)
    for x in (a, a * 0.05, (rng.standard_normal(RATE * 2) * 0.1).astype(np.float32),
              (0.5 * np.sin(2 * np.pi * 100 * np.arange(RATE * 2) / RATE)).astype(np.float32)):
        assert abs(integrated_loudness(x, RATE) - _ffmpeg_lufs(x)) < 0.2


def test_loud_line_is_limited_not_clipped():
    t = np.arange(RATE) / RATE
    x = (np.sin(2 * np.pi * 220 * t) * 0.02).astype(np.float32)
    x[RATE // 2] = 0.99  # one big spike over quiet tone: gain would push it far over the ceiling
    y = match_loudness(x, RATE)
    assert np.abs(y).max() <= CEILING + 1e-6 and not np.any(np.abs(y) >= 1.0)
    assert integrated_loudness(y, RATE) > integrated_loudness(x, RATE)


def test_silence_and_short_lines():
    silent = np.zeros(RATE, np.float32)
    out = match_loudness(silent, RATE)
    assert len(out) == RATE and not out.any()
    assert len(match_loudness(np.zeros(0, np.float32), RATE)) == 0
    t = np.arange(int(0.2 * RATE)) / RATE
    short = (0.01 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # 0.2 s: under one 400 ms block
    m = match_loudness(short, RATE)
    assert len(m) == len(short) and np.abs(m).max() <= CEILING + 1e-6
    assert abs(integrated_loudness(m, RATE) - TARGET_LUFS) < 1.5


def test_narrations_share_a_level():
    narrator, presets = HibariNarrator(), load_presets()
    levels = [integrated_loudness(narrator.narrate(text, presets[voice]).samples, RATE)
              for text, voice in (("Pip looked up. The sky was wide!", "narrator"), ("Oh!", "small"),
                                  ("I am the oldest owl in the whole wood.", "deep"))]
    assert max(levels) - min(levels) < 1.5

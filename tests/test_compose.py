"""The composer: a music bed ducked by a real sidechain compressor, word highlights, bad music files."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from storymode.compose.captions import karaoke_text
from storymode.ffmpeg_exe import ffmpeg_exe
from storymode.timeline import Cue, WordCue

from .conftest import decode_audio, probe, run_cli


def _tone_level_db(samples: np.ndarray, start: float, end: float, freq: float = 1000.0, rate: int = 16000) -> float:
    seg = samples[int(start * rate): int(end * rate)]
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    freqs = np.fft.rfftfreq(len(seg), 1 / rate)
    return float(20 * np.log10(spectrum[(freqs > freq - 10) & (freqs < freq + 10)].max() / len(seg) + 1e-12))


@pytest.mark.slow
def test_music_is_ducked_under_the_voice(tmp_path):
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=frequency=1000:duration=6", "-ac", "2", str(tmp_path / "bed.mp3")], check=True)
    proc = run_cli("make", "a shy fox who learns to fly", "-o", "m.mp4", "--scenes", "1", "--resolution", "480p",
                   "--music", "bed.mp3", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    samples = decode_audio(tmp_path / "m.mp4")
    timeline = json.loads((tmp_path / "m.storymode" / "build" / "timeline.json").read_text())
    clip = timeline["audio"][0]
    alone = _tone_level_db(samples, 2.0, 2.4)  # title card: music only (after its 2 s fade-in)
    under_voice = _tone_level_db(samples, clip["start"] + 0.5, clip["start"] + 0.9)
    late = _tone_level_db(samples, timeline["duration"] - 3.4, timeline["duration"] - 3.0)  # end card, looped bed
    assert alone - under_voice > 6, (alone, under_voice)
    assert late > under_voice + 6  # the bed loops to the end and comes back up when the voice stops
    assert abs(probe(tmp_path / "m.mp4")["duration"] - timeline["duration"]) < 0.15


def test_music_that_is_not_audio(tmp_path):
    (tmp_path / "notes.mp3").write_text("these are not sounds")
    proc = run_cli("make", "a fox", "-o", "x.mp4", "--music", "notes.mp3", cwd=tmp_path)
    assert proc.returncode == 2 and "no audio" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("make", "a fox", "-o", "x.mp4", "--music", "missing.mp3", cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_karaoke_tags_follow_word_timings_and_stay_literal():
    words = [WordCue(text="{\\an8}Hi,", start=1.0, end=1.4), WordCue(text="Pip!", start=1.5, end=2.0)]
    cue = Cue(start=0.8, end=2.0, text="{\\an8}Hi,\nPip!", words=words)
    text = karaoke_text(cue)
    assert text.startswith("{\\k20}{\\k50}")  # 0.2 s lead, then 'Hi,' until the next word starts
    assert "\\N{\\k50}Pip!" in text
    assert "{\\an8}" not in text and "\\{" in text

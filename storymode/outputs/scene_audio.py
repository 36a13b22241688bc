"""A scene's narration for the read-aloud outputs (storybook page, EPUB): its clips mixed into one MP3 file, and
its spoken words lined up with the words shown on the page."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..composers.audio import place_clips
from ..errors import UsageError
from ..sound.wav import TRACK_RATE
from ..timeline import BREAK_MARK, AudioClip, Timeline, TimelineScene, WordCue

AUDIO_BITRATE = "48k"  # mono speech; MP3 because every browser plays it (Safari, Firefox, codec-less Chromium builds)
AUDIO_LEAD_S = 0.15  # silence kept before the first word
AUDIO_TAIL_S = 0.35
SpokenWord = tuple[str, float, float]  # a word and when it is spoken (timeline seconds)


@dataclass(frozen=True)
class AudioSpan:
    """The stretch of the timeline a scene's audio file holds: from start to end, in timeline seconds."""

    start: float
    end: float


def scene_clips(timeline: Timeline, scene: TimelineScene) -> list[AudioClip]:
    """The narration clips that start in the scene."""
    return [c for c in timeline.audio if scene.start <= c.start < scene.end]


def scene_cues_words(timeline: Timeline, scene: TimelineScene) -> list[WordCue]:
    """Every caption word spoken in the scene, in order."""
    return [w for c in timeline.cues if scene.start <= c.start < scene.end for w in c.words]


def audio_span(timeline: Timeline, scene: TimelineScene) -> AudioSpan | None:
    """The scene's narration from a little before its first word to a little after its last; None when silent."""
    clips = scene_clips(timeline, scene)
    if not clips:
        return None
    start = max(scene.start, min(c.start for c in clips) - AUDIO_LEAD_S)
    return AudioSpan(start, max(c.start + c.duration for c in clips) + AUDIO_TAIL_S)


def write_scene_mp3(timeline: Timeline, scene: TimelineScene, start: float, end: float, dest: Path) -> float:
    """Mix the scene's clips at their offsets from start (timeline seconds) up to end, and encode them as a mono
    MP3 file at dest; returns the length of the audio in seconds."""
    from ..ffmpeg_exe import ffmpeg_exe

    track = place_clips(scene_clips(timeline, scene), start, end)
    pcm = (np.clip(track, -1.0, 1.0) * 32767.0).astype("<i2")
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "s16le", "-ar",
                           str(TRACK_RATE), "-ac", "1", "-i", "pipe:0", "-c:a", "libmp3lame", "-b:a", AUDIO_BITRATE,
                           "-f", "mp3", str(dest)], input=pcm.tobytes(), capture_output=True)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()[-400:]
        raise UsageError(f"could not encode the narration of scene {scene.index + 1} as MP3: {message}")
    return len(track) / TRACK_RATE


def _norm(word: str) -> str:
    return re.sub(r"\W+", "", word.casefold())


def spoken_words(words: list[WordCue]) -> list[SpokenWord]:
    """One entry per spoken token; a cue word holding several tokens shares its time by length, and the pieces
    of a word broken across caption lines (ending in BREAK_MARK) are joined again."""
    out: list[SpokenWord] = []
    joining = False
    for w in words:
        parts = w.text.split() or [w.text]
        total = sum(len(p) for p in parts) or 1
        t = w.start
        for p in parts:
            d = (w.end - w.start) * len(p) / total
            if joining:
                out[-1] = (out[-1][0][: -len(BREAK_MARK)] + p, out[-1][1], t + d)
            else:
                out.append((p, t, t + d))
            joining = p.endswith(BREAK_MARK)
            t += d
    return out


def align_words(tokens: list[str], spoken: list[SpokenWord]) -> list[int]:
    """For each spoken word, the index of the displayed token it belongs to (in order; -1 when none)."""
    if len(tokens) == len(spoken):
        return list(range(len(tokens)))
    out, j = [], 0
    for word, _, _ in spoken:
        key = _norm(word)
        hit = next((k for k in range(j, min(j + 6, len(tokens))) if _norm(tokens[k]) == key), None)
        if hit is None and key and j < len(tokens):
            hit = j
        out.append(-1 if hit is None else hit)
        j = hit + 1 if hit is not None else j
    return out

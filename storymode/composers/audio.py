"""The composer's audio: narration clips read, resampled and placed on one mono track; the music file checked."""
from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..timeline import AudioClip, Timeline
from ..sound.wav import TRACK_RATE, read_wav, resample, write_wav

def place_clips(clips: Iterable[AudioClip], start: float, end: float) -> np.ndarray:
    """A mono track at TRACK_RATE from start to end seconds, each clip's wav (resampled) added at its time;
    what falls outside start..end is cut."""
    track = np.zeros(int(round((end - start) * TRACK_RATE)) + 1, np.float32)
    for clip in clips:
        samples = resample(*read_wav(clip.path))
        at = int(round((clip.start - start) * TRACK_RATE))
        skip = max(0, -at)
        at += skip
        stop = min(len(track), at + len(samples) - skip)
        if stop > at:
            track[at:stop] += samples[skip: skip + stop - at]
    return track


def mix_narration(timeline: Timeline, out: Path, target_lufs: float | None = None) -> Path:
    """Place each clip at its start on a silent track as long as the video; optionally bring the whole track
    to target_lufs (peaks under -1.5 dBFS); write it to out."""
    track = place_clips(timeline.audio, 0.0, timeline.duration)
    if target_lufs is not None:
        from ..sound.loudness import match_loudness

        track = match_loudness(track, TRACK_RATE, target_lufs=target_lufs, ceiling_dbfs=-1.5)
    write_wav(out, track, TRACK_RATE)
    return out


def check_music(path: str) -> str:
    """The music file's absolute path, once ffmpeg has found an audio stream in it."""
    from ..ffmpeg_exe import ffmpeg_exe

    music = Path(path).expanduser()
    if not music.is_file():
        raise UsageError(f"--music {path}: no such file")
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(music), "-map", "0:a:0", "-t", "0.5",
                            "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0 or "Audio:" not in probe.stderr:
        raise UsageError(f"--music {path}: ffmpeg finds no audio in this file; give an mp3, wav, ogg, m4a or flac")
    return str(music.resolve())

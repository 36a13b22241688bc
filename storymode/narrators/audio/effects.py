"""Voice colour through ffmpeg's rubberband filter: pitch and formant shifts that keep the duration."""
from __future__ import annotations

import subprocess

import numpy as np

from ...errors import BackendError
from ...ffmpeg_exe import ffmpeg_exe
from ...cast import VoicePreset


def apply_voice(samples: np.ndarray, rate: int, voice: VoicePreset) -> np.ndarray:
    """Shift pitch by voice.pitch semitones (duration unchanged); returns samples unchanged at 0."""
    if abs(voice.pitch) < 1e-3:
        return samples
    ratio = 2.0 ** (voice.pitch / 12.0)
    formant = "preserved" if voice.keep_formant else "shifted"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", str(rate), "-ac", "1",
           "-i", "pipe:0", "-af", f"rubberband=pitch={ratio:.6f}:formant={formant}:transients=smooth",
           "-f", "f32le", "-ar", str(rate), "-ac", "1", "pipe:1"]
    proc = subprocess.run(cmd, input=samples.astype("<f4").tobytes(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise BackendError(f"ffmpeg rubberband failed: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    out = np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)
    # rubberband may add or drop a few samples; keep the exact length so timings stay true
    if len(out) >= len(samples):
        return out[: len(samples)]
    return np.concatenate([out, np.zeros(len(samples) - len(out), np.float32)])

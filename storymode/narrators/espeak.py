"""Last-resort narrator: the espeak-ng program, where it is installed."""
from __future__ import annotations

import io
import shutil
import subprocess
import wave

import numpy as np

from ..backend import BackendOptions
from ..errors import BackendError
from ..cast import VoicePreset
from .base import Audio, Narrator


class EspeakOptions(BackendOptions):
    """Options of the espeak-ng narrator."""

    voice: str = "en-us"  # a preset's `speaker` (e.g. "en-us+f3", an espeak-ng voice variant) wins


class EspeakNarrator(Narrator):
    """espeak-ng: robotic but always intelligible; needs the espeak-ng binary (apt install espeak-ng)."""

    name = "espeak"
    trained = False  # rules and shipped parts, no trained model
    version = "1"
    description = "espeak-ng program (robotic, last resort)"
    Options = EspeakOptions
    sample_rate = 22050  # what espeak-ng writes; each call's wav header says its own

    @classmethod
    def missing(cls) -> list[str]:
        """The espeak-ng program, if it is not on PATH."""
        return [] if shutil.which("espeak-ng") else ["espeak-ng"]

    @classmethod
    def usable(cls) -> tuple[bool, str]:
        """Usable when the espeak-ng binary exists."""
        if cls.missing():
            return False, "needs the espeak-ng program: apt install espeak-ng (or brew install espeak-ng)"
        return True, ""

    def sentence_audio(self, sentence: str, voice: VoicePreset, pace: float) -> Audio:
        """One sentence through espeak-ng --stdout (text passed as an argument list, never a shell)."""
        words_per_min = int(165 * voice.speed * pace)
        proc = subprocess.run(["espeak-ng", "-v", voice.speaker or self.options.voice, "-s", str(words_per_min), "--stdout", "--", sentence],
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise BackendError(f"espeak-ng failed: {proc.stderr.decode(errors='replace')[-200:]}")
        with wave.open(io.BytesIO(proc.stdout)) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            rate = w.getframerate()
        return Audio(pcm.astype(np.float32) / 32768.0, rate)

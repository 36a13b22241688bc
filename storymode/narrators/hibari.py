"""The embedded neural voice: hibari-tts, whose voice "heart" ships inside the wheel (Apache-2.0)."""
from __future__ import annotations

import functools
from typing import Literal

from ..backend import BackendOptions
from ..errors import UsageError
from ..cast import VoicePreset
from .base import Audio, Narrator


class HibariOptions(BackendOptions):
    """Options of the hibari narrator."""

    threads: int = 1
    variation_seed: int = 0  # fixes the vocoder noise so a line always sounds the same
    accent: Literal["auto"] = "auto"


@functools.lru_cache(maxsize=4)
def _engine(voice: str, threads: int):  # type: ignore[no-untyped-def]
    from hibari import Hibari
    from hibari.voices import VOICES, voice_path

    if voice not in VOICES:
        raise UsageError(f"hibari has no voice {voice!r}; installed: {', '.join(installed_voices())}")
    try:
        path = voice_path(voice, download_missing=False)  # never download on our behalf
    except FileNotFoundError:
        raise UsageError(
            f"the hibari voice {voice!r} is not installed (only {', '.join(installed_voices())} ship in the "
            f"wheel). Fetch it once with: python -c \"from hibari.voices import voice_path; voice_path('{voice}')\""
        ) from None
    return Hibari(voice=voice, model=path, threads=threads)


def installed_voices() -> list[str]:
    """hibari voices available without a download."""
    import os

    from hibari.voices import VOICES, voice_path

    found = []
    for name, info in VOICES.items():
        try:
            if info.get("bundled") or os.path.exists(voice_path(name, download_missing=False)):
                found.append(name)
        except FileNotFoundError:
            continue
    return found


class HibariNarrator(Narrator):
    """hibari-tts: 24 kHz English neural TTS, about 60x real time on one core."""

    name = "hibari"
    version = "2"  # 2: speakable text, punctuation-dependent pauses, loudness matching
    description = "embedded neural voice (hibari-tts, voice 'heart' in the wheel)"
    Options = HibariOptions
    requires = ("hibari", "onnxruntime")
    sample_rate = 24000

    def sentences(self, text: str) -> list[str]:
        """hibari's own sentence splitter (knows titles like 'Dr.' and initials)."""
        from hibari import Hibari

        return Hibari.split_sentences(text)

    def sentence_audio(self, sentence: str, voice: VoicePreset, pace: float) -> Audio:
        """One sentence at the preset's speed times the line's pace, at the engine's rate (24 kHz)."""
        engine = _engine(voice.model or "heart", self.options.threads)
        speed = max(0.5, min(2.0, voice.speed * pace))
        return Audio(engine(sentence, speed=speed, seed=self.options.variation_seed), engine.sample_rate)

"""The narrator interface: narrate(text, voice, pace) -> Narration (samples plus sentence and word timings)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..backend import Backend
from ..cast import VoicePreset
from . import effects

SENTENCE_GAP_S = 0.28  # a breath between sentences of one line
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Span:
    """A piece of text and when it is spoken, in seconds from the start of the narration."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class Narration:
    """Mono float32 audio for one line with its sentence and word timings."""

    samples: np.ndarray
    sample_rate: int
    sentences: tuple[Span, ...] = ()
    words: tuple[Span, ...] = ()
    timing_source: str = "sentence-synthesis"
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


def split_words(sentence: str, start: float, end: float) -> list[Span]:
    """Spread a sentence's time over its words by letter count (an estimate until aligned)."""
    words = _WORD.findall(sentence)
    if not words:
        return []
    weights = np.array([max(1, sum(ch.isalnum() for ch in w)) + 1.5 for w in words], dtype=float)
    edges = start + np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum() * (end - start)
    return [Span(w, float(a), float(b)) for w, a, b in zip(words, edges[:-1], edges[1:])]


def trim_silence(samples: np.ndarray, threshold: float = 0.01, keep_s: float = 0.03, rate: int = 24000) -> np.ndarray:
    """Cut leading and trailing near-silence, keeping a short margin."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples[:0]
    keep = int(keep_s * rate)
    return samples[max(0, loud[0] - keep): loud[-1] + keep]


class Narrator(Backend):
    """Speaks text in a voice. Subclasses implement sentences() and sentence_audio()."""

    stage = "narrator"
    sample_rate: int = 24000

    def sentences(self, text: str) -> list[str]:
        """The text cut into sentences the engine speaks one at a time."""
        parts = re.split(r"(?<=[.!?…])[\"”’)\]]*\s+", text.strip())
        return [p for p in parts if p.strip()]

    def sentence_audio(self, sentence: str, voice: VoicePreset, pace: float) -> np.ndarray:
        """Float32 mono samples at self.sample_rate for one sentence."""
        raise NotImplementedError

    def stream(self, text: str, voice: VoicePreset, pace: float = 1.0) -> Iterator[tuple[str, np.ndarray]]:
        """Yield (sentence, samples) pairs as each is synthesized."""
        for sentence in self.sentences(text):
            audio = trim_silence(self.sentence_audio(sentence, voice, pace), rate=self.sample_rate)
            if audio.size:
                yield sentence, audio

    def narrate(self, text: str, voice: VoicePreset, pace: float = 1.0) -> Narration:
        """Synthesize a line; sentence timings are exact (each sentence is synthesized alone)."""
        chunks: list[np.ndarray] = []
        sentences: list[Span] = []
        words: list[Span] = []
        gap = np.zeros(int(SENTENCE_GAP_S / pace * self.sample_rate), np.float32)
        t = 0.0
        for sentence, audio in self.stream(text, voice, pace):
            if chunks:
                chunks.append(gap)
                t += len(gap) / self.sample_rate
            end = t + len(audio) / self.sample_rate
            sentences.append(Span(sentence, t, end))
            words.extend(split_words(sentence, t, end))
            chunks.append(audio.astype(np.float32))
            t = end
        if not chunks:
            raise ValueError(f"the narrator produced no sound for {text[:60]!r}")
        samples = np.concatenate(chunks)
        samples = effects.apply_voice(samples, self.sample_rate, voice)
        return Narration(samples, self.sample_rate, tuple(sentences), tuple(words))

"""The narrator interface: narrate(text, voice, pace) -> Narration (samples plus sentence and word timings)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..backend import Backend
from ..cast import VoicePreset
from ..errors import UsageError
from ..timeline import MAX_LINE_S
from ..sound import loudness
from .audio import effects
from .audio.speakable import has_words, speakable

SENTENCE_GAP_S = 0.28  # a breath between sentences of one line (after a plain ".")
# the breath after a sentence depends on how it ends (seconds at pace 1.0; divided by the line's pace)
END_PAUSES_S = {"…": 0.45, "?": 0.40, "!": 0.36, ".": SENTENCE_GAP_S, ",": 0.16, ";": 0.20, ":": 0.20, "—": 0.20}
OTHER_END_PAUSE_S = 0.24  # a sentence cut at a line break with no end punctuation
PAUSE_ONLY_S = 0.6  # a line with nothing to say ("…", "***") is a pause of this length
# the most text one synthesizer call gets: a neural voice's memory grows with the square of its input (hibari
# needed ~200 MB for 900 characters without a comma), so a longer sentence is spoken in pieces
MAX_SYNTH_CHARS = 400
_WORD = re.compile(r"\S+")
_TRAILING = re.compile(r"[^\w.,;:!?…—–-]+$")
# a piece ending in one of these was cut at an abbreviation, not at a sentence end (when the next piece
# starts with a digit for the first group, or with anything for the second)
_ABBREV_BEFORE_NUMBER = re.compile(r"(?<![\w.])(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|No|Nos|approx|ca|p|pp|vol|ch)\.$", re.I)
_ABBREV_ANYWHERE = re.compile(r"(?<![\w.])(?:e\.g|i\.e|a\.k\.a|vs|cf|Mr|Mrs|Ms|Dr|St|Prof|Mt|Capt|Gen|Sgt)\.$")


def end_pause(sentence: str) -> float:
    """Seconds of breath after a sentence, by its end punctuation (quotes and brackets looked through)."""
    tail = _TRAILING.sub("", sentence)  # quotes, brackets, emoji, spaces
    if tail.endswith(("...", "…")):
        return END_PAUSES_S["…"]
    run = re.search(r"[.!?]+$", tail)
    if run:
        return END_PAUSES_S["?"] if "?" in run.group() else END_PAUSES_S["!"] if "!" in run.group() else END_PAUSES_S["."]
    if tail.endswith(("-", "–")):
        return END_PAUSES_S["—"]
    return END_PAUSES_S.get(tail[-1:], OTHER_END_PAUSE_S)


def merge_pieces(pieces: list[str]) -> list[str]:
    """Re-join what a splitter cut wrongly: after 'Jan.' before '5th', after 'e.g.', and pieces with no
    words (a trailing emoji, '!!!') go with the sentence before them (or after, at the start)."""
    out: list[str] = []
    pending = ""  # word-less pieces at the very start, waiting for a sentence
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if not out:
            if has_words(piece):
                out.append(f"{pending} {piece}".strip())
                pending = ""
            else:
                pending = f"{pending} {piece}".strip()
            continue
        prev = out[-1]
        if not has_words(piece) or _ABBREV_ANYWHERE.search(prev) or \
                (_ABBREV_BEFORE_NUMBER.search(prev) and piece[:1].isdigit()):
            out[-1] = f"{prev} {piece}"
        else:
            out.append(piece)
    if pending:
        out.append(pending)
    return out


@dataclass(frozen=True)
class Audio:
    """What a synthesizer returns for one sentence: mono float32 samples and the rate they were made at."""

    samples: np.ndarray
    rate: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", np.asarray(self.samples, dtype=np.float32).reshape(-1))
        object.__setattr__(self, "rate", int(self.rate))

    def at_rate(self, rate: int) -> Audio:
        """The same sound at another sample rate (itself when the rate is already that)."""
        from ..sound.wav import resample

        return self if rate == self.rate else Audio(resample(self.samples, self.rate, rate), rate)


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


def synthesis_pieces(spoken: str, limit: int = MAX_SYNTH_CHARS) -> list[str]:
    """The text in pieces of at most limit characters: cut after clause punctuation in the second half of a
    piece where there is some, else at the last space, else (one endless word) at the limit."""
    pieces = []
    rest = spoken.strip()
    while len(rest) > limit:
        head = rest[: limit + 1]
        clause = max((m.end() for m in re.finditer(r"[,;:—–]\s", head)), default=0)
        cut = clause if clause > limit // 2 else head.rfind(" ") + 1 or limit
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return [p for p in [*pieces, rest] if p]


def trim_silence(samples: np.ndarray, threshold: float = 0.01, keep_s: float = 0.03, rate: int = 24000) -> np.ndarray:
    """Cut leading and trailing near-silence, keeping a short margin."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples[:0]
    keep = int(keep_s * rate)
    return samples[max(0, loud[0] - keep): loud[-1] + keep]


class Narrator(Backend):
    """Speaks text in a voice. Subclasses implement sentence_audio(), and may override sentences()."""

    stage = "narrator"
    sample_rate: int = 24000  # the engine's usual output rate: a pause-only line is made at it

    def sentences(self, text: str) -> list[str]:
        """The text cut into sentences the engine speaks one at a time."""
        parts = re.split(r"(?<=[.!?…])[\"”’)\]]*\s+", text.strip())
        return [p for p in parts if p.strip()]

    def sentence_audio(self, sentence: str, voice: VoicePreset, pace: float) -> Audio:
        """One sentence's sound: mono samples with the rate the engine made them at."""
        raise NotImplementedError

    def stream(self, text: str, voice: VoicePreset, pace: float = 1.0) -> Iterator[tuple[str, Audio]]:
        """Yield (sentence, audio) pairs as each is synthesized.

        The sentence is the ORIGINAL text (for captions); the synthesizer is given speakable(sentence)."""
        for sentence in merge_pieces(self.sentences(text)):
            spoken = speakable(sentence)
            if not has_words(spoken):
                continue
            audio = self._spoken_audio(spoken, voice, pace)
            if audio.samples.size:
                yield sentence, audio

    def _synthesized(self, piece: str, voice: VoicePreset, pace: float) -> Audio:
        """sentence_audio() for one piece, its rate checked and its silent ends trimmed."""
        from ..sound.wav import check_rate

        audio = self.sentence_audio(piece, voice, pace)
        if not isinstance(audio, Audio):
            raise TypeError(f"{type(self).__name__}.sentence_audio returned {type(audio).__name__}; a narrator "
                            "returns storymode.narrators.base.Audio(samples, rate)")
        check_rate(audio.rate, f"the {self.name} narrator's audio")
        return Audio(trim_silence(audio.samples, rate=audio.rate), audio.rate)

    def _spoken_audio(self, spoken: str, voice: VoicePreset, pace: float) -> Audio:
        """One sentence's sound, trimmed; a sentence longer than MAX_SYNTH_CHARS is synthesized in pieces, all
        brought to the rate of the first."""
        chunks: list[np.ndarray] = []
        rate = 0
        previous = ""
        for piece in synthesis_pieces(spoken):
            audio = self._synthesized(piece, voice, pace)
            if not audio.samples.size:
                continue
            rate = rate or audio.rate
            if chunks:
                chunks.append(np.zeros(int(end_pause(previous) / pace * rate), np.float32))
            chunks.append(audio.at_rate(rate).samples)
            previous = piece
        return Audio(np.concatenate(chunks) if chunks else np.zeros(0, np.float32), rate or self.sample_rate)

    def narrate(self, text: str, voice: VoicePreset, pace: float = 1.0) -> Narration:
        """Synthesize a line; sentence timings are exact (each sentence is synthesized alone).

        Sentence and word spans carry the original words; the breath after each sentence depends on its
        end punctuation (END_PAUSES_S); the line is then coloured (effects) and level-matched (loudness).
        The line is at the rate of its first sentence (a later sentence at another rate is resampled to it).
        A line longer than MAX_LINE_S is refused (UsageError) as soon as its audio passes that length."""
        chunks: list[np.ndarray] = []
        sentences: list[Span] = []
        words: list[Span] = []
        rate = 0
        t = 0.0
        for sentence, audio in self.stream(text, voice, pace):
            rate = rate or audio.rate
            if chunks:
                gap = np.zeros(int(end_pause(sentences[-1].text) / pace * rate), np.float32)
                chunks.append(gap)
                t += len(gap) / rate
            samples = audio.at_rate(rate).samples
            end = t + len(samples) / rate
            sentences.append(Span(sentence, t, end))
            words.extend(split_words(sentence, t, end))
            chunks.append(samples)
            t = end
            if t > MAX_LINE_S:
                raise UsageError(f"the line {text[:60]!r} makes more than {MAX_LINE_S:.0f} s of narration, the "
                                 "limit for one line; split it into shorter lines")
        if not chunks:
            if text.strip() and not has_words(speakable(text)):
                return self._pause_only(text.strip(), pace)
            raise ValueError(f"the narrator produced no sound for {text[:60]!r}")
        samples = np.concatenate(chunks)
        samples = effects.apply_voice(samples, rate, voice)
        samples = loudness.match_loudness(samples, rate)
        return Narration(samples, rate, tuple(sentences), tuple(words))

    def _pause_only(self, text: str, pace: float) -> Narration:
        """A line with nothing to say ("…", "***"): a held silence, captioned with the line itself."""
        samples = np.zeros(int(PAUSE_ONLY_S / pace * self.sample_rate), np.float32)
        end = len(samples) / self.sample_rate
        return Narration(samples, self.sample_rate, (Span(text, 0.0, end),), tuple(split_words(text, 0.0, end)),
                         timing_source="pause")

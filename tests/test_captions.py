"""Captions and the timeline: escaping, line breaks, sizes and timings."""
from __future__ import annotations

from storymode.composers.captions import ass_escape, to_ass, to_srt, to_vtt
from storymode.story import Story
from storymode.timeline import Cue, LineAudio, build_timeline, frame_size, wrap_caption


def test_frame_sizes():
    assert frame_size("16:9", "720p") == (1280, 720)
    assert frame_size("9:16", "1080p") == (1080, 1920)
    assert frame_size("1:1", "480p") == (480, 480)
    assert frame_size("16:9", "480p") == (854, 480)


def test_wrap_two_lines_at_most():
    text = ("At the edge of a wide green meadow, there lived a shy little fox who watched "
            "the swallows every single morning, and wished.")
    pages = wrap_caption(text, 42)
    assert all(len(page) <= 2 for page in pages)
    assert all(len(line) <= 42 for page in pages for line in page)
    assert " ".join(" ".join(p) for p in pages) == text
    assert pages[0][0].endswith(",")  # broke at the phrase boundary


def test_ass_escape_keeps_text_literal():
    raw = "it's 50%: [done]; drawtext= {\\an8} \\N"
    escaped = ass_escape(raw)
    assert "{\\an8}" not in escaped and "\\N" not in escaped.replace("\\\u2060N", "")
    assert escaped.replace("\u2060", "").replace("\\{", "{").replace("\\}", "}") == raw


def test_vtt_escapes_markup_srt_keeps_text():
    cues = [Cue(start=0, end=1.5, text="<b>bold</b> & --> arrows")]
    vtt = to_vtt(cues)
    assert vtt.startswith("WEBVTT")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; --&gt; arrows" in vtt
    assert "00:00:00.000 --> 00:00:01.500" in vtt
    assert "<b>bold</b> & --> arrows" in to_srt(cues).replace("\u2060", "")  # shown literally (a word joiner)
    assert "<b>" not in to_srt(cues)
    assert "00:00:00,000 --> 00:00:01,500" in to_srt(cues)
    assert "PlayResX: 1280" in to_ass(cues, 1280, 720)


def test_timeline_from_audio_durations():
    story = Story.model_validate({"title": "T", "scenes": [
        {"id": "a", "lines": [{"text": "One. Two."}]}, {"id": "b", "lines": [{"text": "Three."}]}]})
    lines = [[LineAudio("a.wav", 2.0, "narrator", (("One.", 0.0, 0.8), ("Two.", 1.1, 2.0)),
                        (("One.", 0.0, 0.8), ("Two.", 1.1, 2.0)))],
             [LineAudio("b.wav", 1.0, "narrator", (("Three.", 0.0, 1.0),), (("Three.", 0.0, 1.0),))]]
    tl = build_timeline(story, lines, ["a.png", "b.png"], width=1280, height=720, fps=30)
    assert [s.start for s in tl.scenes] == [2.5, 2.5 + tl.scenes[0].duration]
    assert tl.scenes[0].duration >= 2.0 + 0.5 + 0.8 - 1e-6
    assert tl.audio[0].start == 3.0 and tl.audio[1].start == tl.scenes[1].start + 0.5
    assert [c.text for c in tl.cues] == ["One.", "Two.", "Three."]
    assert tl.cues[1].start == 3.0 + 1.1
    assert tl.scenes[0].motion.kind != tl.scenes[1].motion.kind
    assert abs(tl.duration - (tl.scenes[-1].end + tl.end_s)) < 1e-3

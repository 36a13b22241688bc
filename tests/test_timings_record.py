"""The narration-timings record (narrators.audio.timings): made from a Narration, read back only when whole."""
from __future__ import annotations

import json

import numpy as np
import pytest

from storymode.errors import UsageError
from storymode.narrators.audio.timings import LineRecord, RecordedLine
from storymode.narrators.base import Narration, Span
from storymode.timeline import MAX_LINE_S, line_audio

RATE = 8000


def _narration(seconds: float = 2.0, **meta: object) -> Narration:
    return Narration(np.zeros(int(seconds * RATE), np.float32), RATE,
                     (Span("Hi there.", 0.0, 1.234567), Span("Bye.", 1.5, 2.0)),
                     (Span("Hi", 0.0, 0.5), Span("there.", 0.5, 1.234567), Span("Bye.", 1.5, 2.0)), meta=dict(meta))


def test_a_record_is_made_from_a_narration_and_read_back_the_same():
    record = LineRecord.of(_narration(), voice="narrator", text="Hi there. Bye.")
    assert record.duration == 2.0 and record.timing_source == "sentence-synthesis"
    assert record.sentences[0] == ("Hi there.", 0.0, 1.2346)  # stored to 0.1 ms
    stored = json.loads(json.dumps(record.as_json()))
    assert LineRecord.read(stored) == record
    line = line_audio("n/a.wav", record, "narrator", 0.5)
    assert line.duration == 2.0 and line.words[1] == ("there.", 0.5, 1.2346) and line.pause_after == 0.5


def test_a_line_past_the_limit_is_refused_when_its_record_is_made():
    with pytest.raises(UsageError, match="more than the 300 s limit for one line"):
        LineRecord.of(_narration(MAX_LINE_S + 1), voice="narrator", text="A very long line.")


@pytest.mark.parametrize("damage", [
    {"duration": True}, {"duration": "2.0"}, {"duration": float("nan")}, {"duration": -1.0}, {"duration": 3600.0},
    {"sentences": [["Hi there.", 1.5, 1.0]]},  # ends before it starts
    {"words": [["Bye.", 1.5, 9.0]]},  # runs far past the line's end
    {"words": [["Bye.", False, 1.0]]}, {"words": [["Bye.", 0.0]]}, {"words": "Bye."},
    {"voice": None}, {"text": 7},
])
def test_a_damaged_record_reads_as_none(damage):
    stored = {**LineRecord.of(_narration(), voice="narrator", text="Hi there. Bye.").as_json(), **damage}
    assert LineRecord.read(stored) is None


@pytest.mark.parametrize("missing", ["duration", "voice", "text", "timing_source", "sentences", "words"])
def test_a_record_missing_a_field_reads_as_none(missing):
    stored = LineRecord.of(_narration(), voice="narrator", text="Hi there. Bye.").as_json()
    del stored[missing]
    assert LineRecord.read(stored) is None


def test_a_recorded_line_names_its_clip_in_narration_and_nothing_else():
    narration = _narration(source=[12.5, 14.5])
    line = RecordedLine.of(narration, voice="recording", text="Hi there. Bye.", wav="0123456789abcdef0123.wav",
                           source=narration.meta["source"])
    assert line.source == (12.5, 14.5) and RecordedLine.read(line.as_json()) == line
    for wav in ("../outside/secret.wav", "/tmp/0123456789abcdef0123.wav", "0123456789abcdef0123.wav\n", "x.wav", 5):
        assert RecordedLine.read({**line.as_json(), "wav": wav}) is None

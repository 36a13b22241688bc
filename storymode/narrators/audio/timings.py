"""The narration-timings record a story folder keeps for each narrated line, typed: one constructor from a
Narration, one validating reader.

narration/<key>.json holds a synthesized line's LineRecord; narration/<key>.aligned.json a scene's records with
Whisper's word times (narrators.audio.align); narration/<key>.recording.json lists a cut recording's lines as
RecordedLine (pipeline.reading). A folder may come from elsewhere or be edited by hand, so a record is read back
through read(): anything that is not a record as written here (a time outside 0..MAX_LINE_S, a span outside
its line, a missing field) is None, and the line is narrated or cut again, never rendered as it is.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, FiniteFloat, ValidationError
from typing_extensions import Self

from ...errors import UsageError
from ...timeline import MAX_LINE_S, LineTimings, TimedText
from ..base import Narration, Span

DIGITS = 4  # span times are stored to 0.1 ms


def _rounded(spans: tuple[Span, ...]) -> list[tuple[str, float, float]]:
    return [(s.text, round(float(s.start), DIGITS), round(float(s.end), DIGITS)) for s in spans]


class LineRecord(LineTimings):
    """A narrated line's timings as the folder stores them: what the timeline reads, and who said what."""

    voice: str  # the voice preset's name ("recording" for the user's own reading)
    text: str  # the line as written (the captions' words)
    timing_source: str  # how the word times were found: "sentence-synthesis", "whisper-aligned", "pause"...
    sentences: list[TimedText]
    words: list[TimedText]

    @classmethod
    def of(cls, narration: Narration, *, voice: str, text: str, **more: Any) -> Self:
        """The record of a narration (more: a subclass's own fields); a line over MAX_LINE_S is a UsageError."""
        if not narration.duration <= MAX_LINE_S:
            raise UsageError(f"the line {text[:60]!r} makes {narration.duration:.0f} s of narration, more than "
                             f"the {MAX_LINE_S:.0f} s limit for one line; split it into shorter lines")
        return cls(duration=narration.duration, voice=voice, text=text, timing_source=narration.timing_source,
                   sentences=_rounded(narration.sentences), words=_rounded(narration.words), **more)

    @classmethod
    def read(cls, data: object) -> Self | None:
        """The record in data (JSON read back from the folder), or None when data is not one."""
        try:
            return cls.model_validate(data)
        except ValidationError:
            return None

    def as_json(self) -> dict:
        """The record as the folder stores it."""
        return self.model_dump(mode="json")


class RecordedLine(LineRecord):
    """One line of a cut recording, as the cut's index lists it: its record, its clip and where it was read."""

    wav: Annotated[str, Field(pattern=r"^[0-9a-f]{20}\.wav$")]  # a bare file name in narration/, as the cut names it
    source: tuple[FiniteFloat, FiniteFloat] | None = None  # [start, end] in the recording, seconds

"""The timeline: a pure function from narration timings and pictures to what plays when."""
from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import UsageError
from .story import NARRATOR, Story

ASPECTS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
RESOLUTIONS = {"480p": 480, "720p": 720, "1080p": 1080}
LEAD_S = 0.5  # picture before the first word of a scene
TAIL_S = 0.8  # picture after the last word
LINE_GAP_S = 0.35
SPEAKER_CHANGE_GAP_S = 0.5
TITLE_S = 2.5
END_S = 3.5
TRANSITION_S = 0.6
MIN_SCENE_S = 1.5
# The longest line the story schema allows (2,000 characters) takes about 120 s at pace 1.0 and 240 s at the
# slowest pace; more than this is a runaway (a word spelled out letter by letter, an edited timings file).
MAX_LINE_S = 300.0
MAX_STORY_S = 2 * 3600.0  # the same bound as a user's recording (narrators.recording.MAX_SECONDS)
BREAK_MARK = "\u2010"  # ends each piece of a word too long for a caption line (a hyphen DejaVu Sans draws)


ZOOM_MIN, ZOOM_MAX = 1.08, 1.13  # the slow zoom's depth range; pictures carry a margin for ZOOM_MAX


def with_zoom_margin(width: int, height: int, zoom: float = ZOOM_MAX, multiple: int = 8) -> tuple[int, int]:
    """A picture size for a width x height frame with room for the slow zoom, both sides multiples of ``multiple``.

    Each side is the frame side times ``zoom`` rounded *up* to the multiple, so at the deepest zoom the view
    still has at least one picture pixel per frame pixel. 1280x720 -> 1448x816, 720x1280 -> 816x1448,
    1080x1080 -> 1224x1224. (The aspect moves by under 1%; the composer cover-fits, so nothing stretches.)
    """
    if width <= 0 or height <= 0 or zoom < 1.0:
        raise UsageError(f"cannot add a zoom margin to {width}x{height} at zoom {zoom}")
    return (int(math.ceil(width * zoom / multiple)) * multiple, int(math.ceil(height * zoom / multiple)) * multiple)


def frame_size(aspect: str, resolution: str) -> tuple[int, int]:
    """Width and height (even numbers) for an aspect ratio and a resolution name; the short side is the p-number."""
    aw, ah = ASPECTS[aspect]
    short = RESOLUTIONS[resolution]
    if aw >= ah:
        return round(short * aw / ah / 2) * 2, short
    return short, round(short * ah / aw / 2) * 2


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WordCue(_Data):
    """One word and when it is spoken (absolute seconds)."""

    text: str
    start: float
    end: float


class Cue(_Data):
    """One caption on screen: at most two lines."""

    start: float
    end: float
    text: str  # lines joined by "\n"
    speaker: str = NARRATOR
    words: list[WordCue] = Field(default_factory=list)


class Motion(_Data):
    """Ken Burns motion: zoom from/to and the centre's travel, in fractions of the frame."""

    kind: Literal["zoom-in", "zoom-out", "pan-left", "pan-right", "pan-up"]
    zoom_from: float
    zoom_to: float
    center_from: tuple[float, float]
    center_to: tuple[float, float]


class AudioClip(_Data):
    """A narration file placed on the timeline."""

    path: str
    start: float
    duration: float


class TimelineScene(_Data):
    """A scene on screen: its picture, when, how it moves and how it leaves."""

    index: int
    scene_id: str
    image: str
    start: float
    duration: float
    motion: Motion
    transition: Literal["crossfade", "dip-to-black", "wipe", "slide", "cut"] = "crossfade"

    @property
    def end(self) -> float:
        """When the scene ends."""
        return self.start + self.duration


class Timeline(_Data):
    """Everything the composer needs, as plain data (saved as build/timeline.json)."""

    width: int
    height: int
    fps: int
    title: str
    credits: list[str] = Field(default_factory=list)
    music: str | None = None
    title_s: float = TITLE_S
    end_s: float = END_S
    transition_s: float = TRANSITION_S
    scenes: list[TimelineScene]
    audio: list[AudioClip]
    cues: list[Cue]
    duration: float


@dataclass(frozen=True)
class LineAudio:
    """What the timeline needs of one narrated line: its file, length, speaker and timings."""

    path: str
    duration: float
    speaker: str
    sentences: tuple[tuple[str, float, float], ...]
    words: tuple[tuple[str, float, float], ...]
    pause_after: float | None = None


Seconds = Annotated[float, Field(ge=0.0, le=MAX_LINE_S, allow_inf_nan=False, strict=True)]  # no bool, no text


TimedText = tuple[str, Seconds, Seconds]  # a piece of text and when it is spoken, seconds from the line's start
SPAN_SLACK_S = 1.0  # how far past the line's end a span may reach (rounding, a trimmed tail)


class LineTimings(BaseModel):
    """What the timeline reads of a narrated line's timings: finite, non-negative seconds, at most MAX_LINE_S,
    each span inside the line (other keys of a stored record are ignored; see narrators.audio.timings)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    duration: Seconds
    sentences: list[TimedText] = Field(default_factory=list)
    words: list[TimedText] = Field(default_factory=list)

    @model_validator(mode="after")
    def _spans_inside(self) -> LineTimings:
        for name in ("sentences", "words"):
            for n, (_, start, end) in enumerate(getattr(self, name)):
                if not start <= end <= self.duration + SPAN_SLACK_S:
                    raise ValueError(f"{name}.{n} runs from {start} to {end} s, outside the line's "
                                     f"{self.duration} s")
        return self


def check_timings(data: object, source: str) -> LineTimings:
    """Validate a timings record; a UsageError naming source and the first bad field otherwise."""
    try:
        return LineTimings.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        got = f" (got {first['input']!r})" if not isinstance(first.get("input"), (dict, list)) else ""
        raise UsageError(f"the narration timings of {source} are not usable: {where}: {first['msg']}{got}; "
                         f"times must be finite seconds from 0 to {MAX_LINE_S:.0f}. Delete that line's files in "
                         "narration/ (or run with --fresh) to narrate it again") from None


def line_audio(wav: str, timings: object, speaker: str, pause_after: float | None) -> LineAudio:
    """LineAudio from a timings record read from disk, validated first (see check_timings)."""
    record = check_timings(timings, wav)
    return LineAudio(path=wav, duration=record.duration, speaker=speaker,
                     sentences=tuple(record.sentences), words=tuple(record.words), pause_after=pause_after)


def _checked(line: LineAudio) -> LineAudio:
    check_timings({"duration": line.duration, "sentences": line.sentences, "words": line.words}, line.path)
    return line


_MOTIONS = ("zoom-in", "zoom-out", "pan-left", "pan-right", "pan-up")


def _motion(kind: str, rng: random.Random) -> Motion:
    z = rng.uniform(ZOOM_MIN, ZOOM_MAX)
    if kind == "zoom-in":
        c = (0.5 + rng.uniform(-0.04, 0.04), 0.5 + rng.uniform(-0.03, 0.03))
        return Motion(kind=kind, zoom_from=1.0, zoom_to=z, center_from=(0.5, 0.5), center_to=c)
    if kind == "zoom-out":
        c = (0.5 + rng.uniform(-0.04, 0.04), 0.5 + rng.uniform(-0.03, 0.03))
        return Motion(kind=kind, zoom_from=z, zoom_to=1.0, center_from=c, center_to=(0.5, 0.5))
    span = (1 - 1 / z) / 2 * 0.9  # how far the centre may travel while the view stays inside the picture
    if kind == "pan-left":
        return Motion(kind=kind, zoom_from=z, zoom_to=z, center_from=(0.5 + span, 0.5), center_to=(0.5 - span, 0.5))
    if kind == "pan-right":
        return Motion(kind=kind, zoom_from=z, zoom_to=z, center_from=(0.5 - span, 0.5), center_to=(0.5 + span, 0.5))
    return Motion(kind=kind, zoom_from=z, zoom_to=z, center_from=(0.5, 0.5 + span), center_to=(0.5, 0.5 - span))


_PHRASE_END = re.compile(r"[,;:—–]$")


def _two_lines(words: list[str], max_chars: int) -> list[str] | None:
    """One line, or two lines of similar length split at a phrase boundary where possible; None if too long."""
    text = " ".join(words)
    if len(text) <= max_chars or len(words) == 1:
        return [text]
    best: tuple[float, list[str]] | None = None
    for i in range(1, len(words)):
        a, b = " ".join(words[:i]), " ".join(words[i:])
        if len(a) > max_chars or len(b) > max_chars:
            continue
        score = abs(len(a) - len(b)) - (10 if _PHRASE_END.search(words[i - 1]) else 0)
        if best is None or score < best[0]:
            best = (score, [a, b])
    return best[1] if best else None


def _groups(words: list[str], count: int) -> list[list[str]]:
    """Words cut into count runs of similar length, preferring cuts after punctuation."""
    if count <= 1 or len(words) < 2:
        return [words]
    total = len(" ".join(words))
    cuts, position, ends = [], 0, []
    for i, word in enumerate(words):
        position += len(word) + (1 if i else 0)
        ends.append(position)
    for k in range(1, count):
        target = total * k / count
        window = total / count * 0.25
        candidates = [i for i in range(1, len(words)) if abs(ends[i - 1] - target) <= window
                      and _PHRASE_END.search(words[i - 1]) and (not cuts or i > cuts[-1])]
        if candidates:
            cut = min(candidates, key=lambda i: abs(ends[i - 1] - target))
        else:
            cut = min(range(1, len(words)), key=lambda i: abs(ends[i - 1] - target))
        if cuts and cut <= cuts[-1]:
            cut = cuts[-1] + 1
        if cut < len(words):
            cuts.append(cut)
    bounds = [0, *cuts, len(words)]
    return [words[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]


def break_word(word: str, max_chars: int) -> list[str]:
    """A word longer than a caption line cut into pieces that fit, each but the last ending in BREAK_MARK."""
    if len(word) <= max_chars:
        return [word]
    size = max(1, max_chars - len(BREAK_MARK))
    pieces = [word[i:i + size] for i in range(0, len(word), size)]
    return [p + BREAK_MARK for p in pieces[:-1]] + pieces[-1:]


def wrap_caption(text: str, max_chars: int) -> list[list[str]]:
    """Split a sentence into caption pages of at most two lines, balanced, breaking at phrase boundaries.

    A word longer than max_chars is broken into pieces (break_word), so every line fits."""
    words = [piece for word in text.split() for piece in break_word(word, max_chars)]
    if not words:
        return []
    text = " ".join(words)
    count = min(len(words), max(1, math.ceil(len(text) / (2 * max_chars * 0.92))))
    while True:
        pages = [_two_lines(group, max_chars) for group in _groups(words, count)]
        if all(page is not None for page in pages) or count >= len(words):
            return [page if page is not None else [" ".join(group)]
                    for page, group in zip(pages, _groups(words, count))]
        count += 1


def _pieces(word: WordCue, max_chars: int) -> list[WordCue]:
    """A cue word as caption tokens: split at spaces, over-long tokens broken; its time shared by length."""
    parts = [p for token in word.text.split() for p in break_word(token, max_chars)] or [word.text]
    if len(parts) == 1:
        return [word]
    total = sum(len(p) for p in parts)
    out, t = [], word.start
    for part in parts:
        end = t + (word.end - word.start) * len(part) / total
        out.append(WordCue(text=part, start=t, end=end))
        t = end
    return out


def _cues_for_sentence(words: list[WordCue], speaker: str, max_chars: int) -> list[Cue]:
    words = [piece for word in words for piece in _pieces(word, max_chars)]
    text = " ".join(w.text for w in words)
    cues = []
    i = 0
    for page in wrap_caption(text, max_chars):
        n = sum(len(line.split()) for line in page)
        chunk = words[i:i + n]
        i += n
        if chunk:
            cues.append(Cue(start=chunk[0].start, end=chunk[-1].end, text="\n".join(page), speaker=speaker,
                            words=chunk))
    return cues


def _close_gaps(cues: list[Cue], max_gap: float = 0.8) -> list[Cue]:
    """Hold each caption until the next one when the pause between them is short (no flicker)."""
    out = []
    for cue, nxt in zip(cues, [*cues[1:], None]):
        if nxt is not None and 0 < nxt.start - cue.end <= max_gap:
            cue = cue.model_copy(update={"end": nxt.start})
        out.append(cue)
    return out


def build_timeline(story: Story, lines: list[list[LineAudio]], images: list[str], *, width: int, height: int,
                   fps: int, credits: list[str] | None = None, music: str | None = None) -> Timeline:
    """Place every scene and line in time; durations come from the audio, motion varies scene to scene.

    Every line's timings are checked (check_timings), and a story longer than MAX_STORY_S is refused."""
    lines = [[_checked(line) for line in scene_lines] for scene_lines in lines]
    rng = random.Random(f"{story.seed}:motion")
    max_chars = 42 if width >= height else 26
    scenes: list[TimelineScene] = []
    audio: list[AudioClip] = []
    cues: list[Cue] = []
    t = TITLE_S
    last_kind = ""
    for index, (scene, scene_lines, image) in enumerate(zip(story.scenes, lines, images)):
        start = t
        cursor = start + LEAD_S
        previous_speaker = None
        for n, line in enumerate(scene_lines):
            if n:
                gap = scene_lines[n - 1].pause_after
                if gap is None:
                    gap = SPEAKER_CHANGE_GAP_S if line.speaker != previous_speaker else LINE_GAP_S
                cursor += gap
            audio.append(AudioClip(path=line.path, start=round(cursor, 4), duration=line.duration))
            for sentence, s0, s1 in line.sentences:
                sentence_words = [WordCue(text=w, start=cursor + a, end=cursor + b)
                                  for w, a, b in line.words if s0 - 1e-6 <= a and b <= s1 + 1e-6]
                if not sentence_words:
                    sentence_words = [WordCue(text=sentence, start=cursor + s0, end=cursor + s1)]
                cues.extend(_cues_for_sentence(sentence_words, line.speaker, max_chars))
            cursor += line.duration
            previous_speaker = line.speaker
        tail = scene_lines[-1].pause_after if scene_lines and scene_lines[-1].pause_after is not None else TAIL_S
        duration = max(MIN_SCENE_S, cursor + tail - start)
        kind = rng.choice([k for k in _MOTIONS if k != last_kind])
        last_kind = kind
        # mostly crossfades, now and then a wipe, a slide or a dip to black; into the end card always a crossfade
        transition = "crossfade" if index == len(story.scenes) - 1 else rng.choices(
            ["crossfade", "wipe", "slide", "dip-to-black"], weights=[5, 2, 1, 1])[0]
        scenes.append(TimelineScene(index=index, scene_id=scene.id, image=image, start=round(start, 4),
                                    duration=round(duration, 4), motion=_motion(kind, rng), transition=transition))
        t = start + duration
    total = t + END_S
    if total > MAX_STORY_S:
        raise UsageError(f"the story would be {total / 60:.0f} minutes long; the limit is {MAX_STORY_S / 3600:.0f} "
                         "hours. Split it into several stories")
    cues = _close_gaps(cues)
    return Timeline(width=width, height=height, fps=fps, title=story.title, credits=credits or [], music=music,
                    scenes=scenes, audio=audio, cues=cues, duration=round(total, 4))

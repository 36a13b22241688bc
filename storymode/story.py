"""The story data model: Story, Character, Scene, Line, Brief; JSON load/save with validation."""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import StoryValidationError
from .understanding.request import StoryRequest

SCHEMA_VERSION = 1
NARRATOR = "narrator"
MAX_SCENES = 300
TimeOfDay = Literal["dawn", "day", "dusk", "night"]
Weather = Literal["clear", "clouds", "rain", "snow", "wind", "fog", "storm"]
_ID = r"^[a-z0-9][a-z0-9_-]{0,39}$"


def _is_kept_format_char(ch: str) -> bool:
    """Whether a format character belongs to an emoji sequence (a zero-width joiner, a tag) and so stays."""
    return ch in "\u200c\u200d" or "\U000e0020" <= ch <= "\U000e007f"


def clean_text(text: str) -> str:
    """Drop control and format characters (keeping emoji, newlines and tabs as spaces) and trim."""
    kept = []
    for ch in text:
        if ch in "\n\t\r":
            kept.append("\n" if ch == "\n" else " ")
        elif unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in "\u2028\u2029":
            continue
        elif unicodedata.category(ch) == "Cf" and not _is_kept_format_char(ch):
            continue  # bidi overrides and invisible marks; joiners inside emoji sequences stay
        else:
            kept.append(ch)
    return "".join(kept).strip()


def one_line(text: str, limit: int | None = None) -> str:
    """clean_text on a single line: newlines and runs of spaces become one space; cut to limit characters."""
    flat = " ".join(clean_text(text).split())
    return flat if limit is None else flat[:limit].rstrip()


def _not_empty(value: str, what: str) -> str:
    """The value, or a ValueError saying that what is empty."""
    if not value:
        raise ValueError(f"{what} is empty")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Line(_Model):
    """One spoken line: who says it and what they say."""

    speaker: str = Field(NARRATOR, description="'narrator' or the id of a character in the cast")
    text: str = Field(min_length=1, max_length=2000)
    pace: float = Field(1.0, ge=0.5, le=2.0, description="speaking rate; 1.0 is the voice's own")
    pause_after: float | None = Field(None, ge=0.0, le=5.0, description="seconds of silence after the line")

    @field_validator("text")
    @classmethod
    def _text_clean(cls, value: str) -> str:
        return _not_empty(clean_text(value), "line text")


class Character(_Model):
    """A member of the cast, with the look the illustrator reuses in every scene."""

    id: str = Field(pattern=_ID, description="short lowercase id used by lines and briefs")
    name: str = Field(min_length=1, max_length=80)
    kind: str = Field(min_length=1, max_length=80, description="what they are: 'fox', 'old owl', 'girl'")
    description: str = Field("", max_length=400, description="short visual description")
    voice: str | None = Field(None, description="voice preset name; chosen automatically when empty")
    gender: Literal["she", "he"] | None = Field(None, description="how the story speaks of them, when known")
    aliases: list[str] = Field(default_factory=list, max_length=8,
                               description="other names the text uses for them ('the mouse', 'the clockmaker')")


class Brief(_Model):
    """What the scene's picture shows."""

    setting: str = Field("meadow", min_length=1, max_length=80)
    time_of_day: TimeOfDay = "day"
    weather: Weather = "clear"
    characters: list[str] = Field(default_factory=list, description="ids of the characters in the picture")
    action: str = Field("", max_length=400)
    props: list[str] = Field(default_factory=list)
    mood: str = Field("calm", max_length=40)
    variant: int = Field(0, ge=0, le=1_000_000, description="0: the default picture; another number: another "
                                                            "drawing of the same brief, picked in the studio")
    style: str | None = Field(None, min_length=1, max_length=40,
                              description="this scene's own picture style preset; empty: the story's")

    def key_fields(self) -> dict:
        """The brief as a picture's cache key holds it: variant and style only when set, so the pictures of
        stories written before they existed keep their keys."""
        fields = self.model_dump()
        if not self.variant:
            del fields["variant"]
        if self.style is None:
            del fields["style"]
        return fields


class Scene(_Model):
    """One page of the story: narration lines and an illustration brief."""

    id: str = Field(pattern=_ID)
    lines: list[Line] = Field(min_length=1, max_length=60)
    brief: Brief = Field(default_factory=Brief)

    @property
    def text(self) -> str:
        """All the scene's lines as one paragraph."""
        return " ".join(line.text for line in self.lines)


class Screening(_Model):
    """How the story was screened for its audience: by which screens, what its audience allowed (recorded for
    adults), and how many times a writer was asked again with the rule stated."""

    audience: str
    screens: list[str] = Field(default_factory=list)
    allowed: list[str] = Field(default_factory=list, description="categories present and allowed for the audience")
    softened: int = Field(0, ge=0, description="times the writer was asked again with the audience rule")


class Story(_Model):
    """A whole story: title, cast and scenes."""

    schema_version: int = SCHEMA_VERSION
    title: str = Field(min_length=1, max_length=200)
    prompt: str | None = Field(None, max_length=100_000)
    audience: str = "kids"
    style: str = "storybook"
    language: str = "en"
    seed: int = 0
    characters: list[Character] = Field(default_factory=list, max_length=20)
    request: StoryRequest | None = Field(None, description="what the prompt was understood to ask for")
    screening: Screening | None = Field(None, description="how the story was screened for its audience")
    scenes: list[Scene] = Field(min_length=1, max_length=MAX_SCENES)

    @field_validator("title")
    @classmethod
    def _title_clean(cls, value: str) -> str:
        # the title reaches the title card, the MP4's metadata and file names: one line, no control or bidi marks
        return _not_empty(one_line(value), "the title")

    @field_validator("prompt")
    @classmethod
    def _prompt_clean(cls, value: str | None) -> str | None:
        return None if value is None else clean_text(value)

    @model_validator(mode="after")
    def _references(self) -> "Story":
        ids = [c.id for c in self.characters]
        if NARRATOR in ids:
            raise ValueError("a character may not have the id 'narrator'")
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"character ids must be unique; repeated: {', '.join(dupes)}")
        scene_ids = [s.id for s in self.scenes]
        dupes = sorted({i for i in scene_ids if scene_ids.count(i) > 1})
        if dupes:
            raise ValueError(f"scene ids must be unique; repeated: {', '.join(dupes)}")
        known = set(ids)
        for n, scene in enumerate(self.scenes):
            for m, line in enumerate(scene.lines):
                if line.speaker != NARRATOR and line.speaker not in known:
                    raise ValueError(
                        f"scenes.{n}.lines.{m}.speaker: {line.speaker!r} is not 'narrator' or a character id "
                        f"({', '.join(ids) or 'the cast is empty'})"
                    )
            for who in scene.brief.characters:
                if who not in known:
                    raise ValueError(f"scenes.{n}.brief.characters: {who!r} is not a character id")
        return self

    def character(self, char_id: str) -> Character:
        """The character with this id."""
        return next(c for c in self.characters if c.id == char_id)

    @property
    def speakers(self) -> list[str]:
        """Speaker ids in order of first appearance, the narrator first."""
        seen = [NARRATOR]
        for scene in self.scenes:
            for line in scene.lines:
                if line.speaker not in seen:
                    seen.append(line.speaker)
        return seen

    def to_json(self) -> str:
        """The story as indented JSON text."""
        return self.model_dump_json(indent=2) + "\n"


def slug(text: str, fallback: str = "x") -> str:
    """A short lowercase id made from text."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")
    return out or fallback


def describe_errors(err: ValidationError, source: str) -> str:
    """A short message naming every bad field, its value and what was expected."""
    lines = [f"{source} is not a valid story:"]
    for e in err.errors()[:8]:
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        value = e.get("input")
        shown = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, (dict, list)) else None
        if shown is not None and len(shown) > 60:
            shown = shown[:57] + "..."
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {msg}" + (f" (got {shown})" if shown is not None and e["type"] != "missing" else ""))
    if len(err.errors()) > 8:
        lines.append(f"  ... and {len(err.errors()) - 8} more")
    return "\n".join(lines)


def story_from_data(data: object, source: str = "story") -> Story:
    """Validate parsed JSON into a Story, raising StoryValidationError with a readable message."""
    try:
        return Story.model_validate(data)
    except ValidationError as err:
        raise StoryValidationError(describe_errors(err, source)) from None


def load_story(path: str | Path) -> Story:
    """Read and validate a story.json file."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StoryValidationError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise StoryValidationError(f"{path} is not UTF-8 text") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise StoryValidationError(
            f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}. "
            "Fix it, or delete it and run `storymode write` again."
        ) from None
    except RecursionError:
        raise StoryValidationError(f"{path} is nested too deeply to be a story; delete it and run `storymode write` "
                                   "again") from None
    return story_from_data(data, str(path))


def story_schema() -> dict:
    """The JSON Schema of story.json."""
    return Story.model_json_schema()

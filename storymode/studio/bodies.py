"""The JSON bodies the studio's routes take (pydantic models, extra fields refused) and the checks on an uploaded
text file."""
from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import UsageError
from ..story import MAX_SCENES
from ..timeline import ASPECTS, RESOLUTIONS

MAX_TEXT_BYTES = 1_000_000  # a pasted or uploaded text
TEXT_SUFFIXES = (".txt", ".md")
AUDIENCES = ("kids", "teens", "adults")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NewSettings(_Body):
    """The settings a new story asks for; empty ones are the defaults (storymode.toml, the environment)."""

    scenes: int | None = Field(None, ge=1, le=MAX_SCENES)
    audience: Literal[AUDIENCES] | None = None  # type: ignore[valid-type]
    tone: str | None = Field(None, max_length=40)
    aspect: Literal[tuple(ASPECTS)] | None = None  # type: ignore[valid-type]
    resolution: Literal[tuple(RESOLUTIONS)] | None = None  # type: ignore[valid-type]
    style: str | None = Field(None, max_length=40)
    writer: str | None = Field(None, max_length=80)
    narrator: str | None = Field(None, max_length=80)
    illustrator: str | None = Field(None, max_length=80)
    preset: str | None = Field(None, max_length=40, description="the diffusers illustrator's model preset")
    options: str = Field("", max_length=8000, description="backend options, one KEY=VALUE or STAGE.KEY=VALUE a line")


class UploadedFile(_Body):
    """A .txt or .md file the browser read: its name and its bytes in base64."""

    name: str = Field(min_length=1, max_length=255)
    data: str = Field(max_length=4 * MAX_TEXT_BYTES)


class NewStory(_Body):
    """A new story: from a prompt, a pasted text (with an optional title) or an uploaded file."""

    prompt: str | None = None
    text: str | None = None
    title: str | None = Field(None, max_length=200)
    file: UploadedFile | None = None
    settings: NewSettings = Field(default_factory=NewSettings)


class EditBody(_Body):
    """One edit (an edits.py function by name, with its arguments) on the version the page loaded."""

    base: str = Field(min_length=1, max_length=80)
    op: str = Field(min_length=1, max_length=40)
    args: dict[str, Any] = Field(default_factory=dict)


class BaseBody(_Body):
    """A change on the version the page loaded."""

    base: str = Field(min_length=1, max_length=80)


class PlayBody(BaseBody):
    """Which line to hear."""

    scene_id: str = Field(min_length=1, max_length=40)
    index: int = Field(ge=0)


class PreviewBody(_Body):
    """A voice to hear, and what it says."""

    voice: str = Field(min_length=1, max_length=80)
    text: str | None = Field(None, max_length=300)


class CandidatesBody(_Body):
    """Other pictures (redraw) or texts (rewrite) for one scene."""

    scene_id: str = Field(min_length=1, max_length=40)
    n: int = Field(4, ge=1, le=8)
    styles: list[str] = Field(default_factory=list, max_length=8)


class PickBody(BaseBody):
    """The candidate chosen."""

    candidate: str = Field(min_length=1, max_length=160)


class TooLarge(UsageError):
    """A text over the studio's size limit (answered with 413)."""


def decoded_upload(upload: UploadedFile) -> str:
    """The text of an uploaded file: a .txt or .md name, at most MAX_TEXT_BYTES, UTF-8."""
    suffix = Path(upload.name).suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise UsageError(f"{upload.name}: the studio reads .txt and .md files; save the story as plain text")
    if len(upload.data) * 3 // 4 > MAX_TEXT_BYTES + 3:
        raise TooLarge(f"{upload.name} is over {MAX_TEXT_BYTES // 1_000_000} MB; the studio takes texts of at most "
                       f"{MAX_TEXT_BYTES:,} bytes: split it into parts")
    try:
        data = base64.b64decode(upload.data, validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{upload.name}: the file did not arrive whole (its data is not base64); try again") \
            from None
    if len(data) > MAX_TEXT_BYTES:
        raise TooLarge(f"{upload.name} is {len(data):,} bytes; the studio takes texts of at most {MAX_TEXT_BYTES:,} "
                       "bytes: split it into parts")
    if b"\x00" in data:
        raise UsageError(f"{upload.name} looks like a binary file; give a plain text (.txt or .md) file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{upload.name} is not UTF-8 text; save it as UTF-8 and try again") from None

"""The writer interface: write(request) -> Story and segment(text, request) -> Story."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..backend import Backend
from ..story import MAX_SCENES, Story


class WriteRequest(BaseModel):
    """What the user asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, max_length=100_000)
    scenes: int = Field(6, ge=1, le=MAX_SCENES)
    audience: str = "kids"
    style: str = "storybook"
    tone: str | None = None
    words_per_scene: int | None = Field(None, ge=10, le=300)
    seed: int = 0
    # what a writer that follows instructions is told besides the audience rule: set when its story was screened
    # and it is asked again (not part of the story's cache key: the request and the screen decide it)
    rules: tuple[str, ...] = ()


class Writer(Backend):
    """Writes a story from a prompt, or segments the user's own text into a story."""

    stage = "writer"
    # a writer that follows instructions (a language model) is asked again, with the rule stated, when its story is
    # not for the audience; the others' stories are refused instead
    follows_rules: bool = False
    # a folder where the writer may save replies it could not use, for the user to read; the pipeline sets it
    # (the story folder's build/) before it calls write() or segment(), and None means nowhere
    raw_dir: Path | None = None

    def write(self, request: WriteRequest) -> Story:
        """A new story for the prompt in request."""
        raise NotImplementedError

    def segment(self, text: str, request: WriteRequest) -> Story:
        """The user's own text, word for word, cut into scenes; request.prompt holds a title hint."""
        raise NotImplementedError

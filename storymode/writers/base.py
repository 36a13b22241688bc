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


class Writer(Backend):
    """Writes a story from a prompt, or segments the user's own text into a story."""

    stage = "writer"
    # a folder where the writer may save replies it could not use, for the user to read; the pipeline sets it
    # (the story folder's build/) before it calls write() or segment(), and None means nowhere
    raw_dir: Path | None = None

    def write(self, request: WriteRequest) -> Story:
        """A new story for the prompt in request."""
        raise NotImplementedError

    def segment(self, text: str, request: WriteRequest) -> Story:
        """The user's own text, word for word, cut into scenes; request.prompt holds a title hint."""
        raise NotImplementedError

"""What the gallery made: one record per example, and the whole build's result."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class GalleryStory:
    """One story of the gallery, as built (or the error that stopped it)."""

    name: str
    source: Path
    title: str = ""
    seconds: float = 0.0
    cached: bool = False
    duration: float = 0.0
    video: Path | None = None
    vtt: Path | None = None
    srt: Path | None = None
    poster: Path | None = None
    storybook: Path | None = None
    width: int = 0
    height: int = 0
    scenes: int = 0
    speakers: int = 0
    prompt: str | None = None
    text_preview: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    credits: tuple[str, ...] = ()  # the end card's lines: who wrote, voiced and drew it
    error: str | None = None
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class GalleryResult:
    """What a gallery build did."""

    out_dir: Path
    index: Path
    stories: list[GalleryStory]
    seconds: float

    @property
    def built(self) -> list[GalleryStory]:
        return [s for s in self.stories if s.ok]

    @property
    def failed(self) -> list[GalleryStory]:
        return [s for s in self.stories if not s.ok]

    @property
    def all_cached(self) -> bool:
        return all(s.cached for s in self.built)

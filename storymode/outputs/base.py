"""What every export is given: the finished story, its timeline and its folder."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from ..story import Story
from ..timeline import Timeline

PageSize = Literal["a4", "letter", "square"]
ExportName = Literal["html", "epub", "pdf", "otio", "fcpxml", "kdenlive"]
EXPORT_NAMES: tuple[str, ...] = get_args(ExportName)  # formats.py says what each is
PAGE_SIZES: dict[str, tuple[float, float]] = {  # trim width and height in inches, portrait
    "a4": (210 / 25.4, 297 / 25.4),
    "letter": (8.5, 11.0),
    "square": (8.5, 8.5),
}


@dataclass(frozen=True)
class ExportJob:
    """A finished story to export: the story, the timeline the video was (or would be) rendered from, and the
    story folder that holds every file the timeline names (pictures under art/, narration under audio/)."""

    story: Story
    timeline: Timeline
    story_dir: Path
    page_size: PageSize = "a4"

    @property
    def credits(self) -> list[str]:
        """The end card's lines: which backends made the story, and what they credit."""
        return list(self.timeline.credits)

    def relative(self, media: str | Path, dest: Path) -> str:
        """A media file's path as seen from the folder of dest, with forward slashes (for relative references)."""
        return Path(os.path.relpath(Path(media).resolve(), Path(dest).resolve().parent)).as_posix()

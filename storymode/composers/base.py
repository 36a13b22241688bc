"""The composer interface: compose(timeline, out) -> Video."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..backend import Backend
from ..timeline import Timeline

FrameProgress = Callable[[int, int], None]  # (frames done, frames total)


@dataclass(frozen=True)
class Video:
    """A rendered video and what it holds."""

    path: Path
    duration: float
    width: int
    height: int
    fps: int
    frames: int


class Composer(Backend):
    """Turns a timeline into a video file."""

    stage = "composer"

    def compose(self, timeline: Timeline, out: Path, workdir: Path, metadata: dict[str, str],
                progress: FrameProgress | None = None, chapter_titles: list[str] | None = None) -> Video:
        """Render the timeline to out (atomically); workdir holds intermediate files.

        metadata: the video's tags (title, artist, comment, description, copyright); progress: called with (frames
        done, frames total); chapter_titles: one title per timeline scene, for a format that has chapters."""
        raise NotImplementedError

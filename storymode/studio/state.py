"""What the studio app holds (Studio), and how its routes read a story and word a change refused as stale."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..story import Story
from . import library
from .jobs import Jobs
from .security import story_folder


@dataclass
class Studio:
    """The app's state: its folder, its CSRF token, its jobs, and the settings the user gave for each story made
    in this run (their own, so trusted; a story folder's own record of them is read as untrusted data)."""

    root: Path
    csrf: str
    jobs: Jobs = field(default_factory=Jobs)
    made: dict[str, dict[str, Any]] = field(default_factory=dict)

    def settings(self, story_id: str) -> Any:
        """The settings the story is narrated, drawn and rendered with."""
        return library.story_settings(story_folder(self.root, story_id), self.made.get(story_id))


def read_story(folder: Path) -> tuple[Story, str]:
    """story.json and its version, read from the same bytes."""
    from .history import load

    return load(folder)


def stale_message(base: str, current: str) -> str:
    """The message of a change refused because the page's version is stale."""
    return (f"this story was changed in another tab or by the CLI since you loaded it (you had version {base}, it "
            f"is now {current}); reload to see it — nothing was changed")

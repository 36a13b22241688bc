"""storymode: a prompt or a text becomes a narrated, illustrated story video.

    import storymode
    result = storymode.make("a shy fox who learns to fly", out="fox.mp4")
    print(result.video, result.duration, result.stage_seconds)
    again = storymode.render("fox.storymode", "fox.mp4")  # after editing fox.storymode/story.json

Importing storymode loads nothing heavy; the stage code is imported on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API = {"make", "write", "narrate", "illustrate", "render", "compose", "export", "Result", "Settings", "load_story"}
_MODELS = {"Story", "Character", "Scene", "Line", "Brief"}

if TYPE_CHECKING:
    from .api import compose, export, illustrate, load_story, make, narrate, render, write
    from .config import Settings
    from .pipeline import Result
    from .story import Brief, Character, Line, Scene, Story


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    if name in _MODELS:
        from . import story

        return getattr(story, name)
    raise AttributeError(f"module 'storymode' has no attribute {name!r}")


__all__ = ["Brief", "Character", "Line", "Result", "Scene", "Settings", "Story", "__version__", "compose",
           "export", "illustrate", "load_story", "make", "narrate", "render", "write"]

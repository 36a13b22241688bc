"""The Python API: the same functions the CLI calls."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import Settings, resolve_settings
from .errors import UsageError
from .events import Listener, ignore
from .outputs.base import EXPORT_NAMES as FORMAT_NAMES, PAGE_SIZES
from . import pipeline
from .pipeline import (Result, clean_prompt, default_story_dir, illustrate_stage, narrate_stage, read_user_text, run,
                       write_stage)
from .story import Story, load_story
from .timeline import Timeline
from .workspace import Workspace


def _settings(options: dict[str, Any], config: str | Path | None, profile: str | None) -> Settings:
    """The settings in force: settings=a Settings already resolved (the CLI's), or resolved here from the
    setting overrides, the config file and the profile."""
    given = options.pop("settings", None)
    if given is None:
        return resolve_settings(options, config=Path(config) if config else None, profile=profile)
    if not isinstance(given, Settings):
        raise TypeError("settings= takes a storymode.Settings (see storymode.config.resolve_settings)")
    extra = [name for name, value in options.items() if value is not None] + (["config"] if config else []) + (
        ["profile"] if profile else [])
    if extra:
        raise TypeError(f"settings= is already resolved; do not also pass {', '.join(extra)}")
    return given


def make(prompt: str | None = None, *, out: str | Path, from_file: str | Path | None = None,
         story_dir: str | Path | None = None, fresh: bool = False, force: bool = False,
         config: str | Path | None = None, profile: str | None = None, on_event: Listener = ignore,
         narration_audio: str | Path | bool | None = None, **options: Any) -> Result:
    """Prompt (or the text in from_file) -> story folder, MP4, SRT and VTT. options: any Settings field.

    narration_audio: a recording of the user reading the story (any format ffmpeg reads), cut into the lines by
    Whisper alignment instead of synthesized voices; the story folder remembers it, False (or "none") goes back
    to synthesized voices.

    >>> storymode.make("a shy fox who learns to fly", out="fox.mp4", scenes=4)  # doctest: +SKIP
    >>> storymode.make(from_file="tale.txt", narration_audio="reading.m4a", out="tale.mp4")  # doctest: +SKIP
    """
    settings = _settings(options, config, profile)
    text = title = None
    if from_file is not None:
        if prompt:
            raise ValueError("give a prompt or from_file, not both")
        text = read_user_text(from_file)
        title = Path(from_file).stem.replace("_", " ").replace("-", " ").strip().title() or None
    else:
        prompt = clean_prompt(prompt or "")
    return run(prompt, Path(out), settings, text=text, title=title,
               story_dir=Path(story_dir) if story_dir else None, fresh=fresh, force=force, emit=on_event,
               narration_audio=narration_audio)


def write(prompt: str | None = None, *, story_dir: str | Path, from_file: str | Path | None = None,
          fresh: bool = False, config: str | Path | None = None, profile: str | None = None,
          on_event: Listener = ignore, **options: Any) -> Story:
    """Write (or segment) a story into story_dir/story.json and return it."""
    settings = _settings(options, config, profile)
    text = title = None
    if from_file is not None:
        text = read_user_text(from_file)
        title = Path(from_file).stem.replace("_", " ").replace("-", " ").strip().title() or None
    elif prompt is not None:
        prompt = clean_prompt(prompt)
    with Workspace(story_dir) as ws:
        return write_stage(ws, settings, prompt=prompt, text=text, title=title, fresh=fresh, emit=on_event)


def narrate(story_dir: str | Path, *, fresh: bool = False, config: str | Path | None = None,
            profile: str | None = None, on_event: Listener = ignore,
            narration_audio: str | Path | bool | None = None, **options: Any) -> list[list[Any]]:
    """Narrate every line of story_dir/story.json (cached); returns per-scene line audio.

    narration_audio: the user's reading of story.json's lines instead of synthesized voices (see make)."""
    settings = _settings(options, config, profile)
    with Workspace(story_dir) as ws:
        story = load_story(ws.story_path)
        pipeline.check_story_for_audience(story, settings)  # story.json may have been edited by hand
        return narrate_stage(ws, story, settings, fresh=fresh, emit=on_event, narration_audio=narration_audio)


def illustrate(story_dir: str | Path, *, fresh: bool = False, config: str | Path | None = None,
               profile: str | None = None, on_event: Listener = ignore, **options: Any) -> list[str]:
    """Draw every scene of story_dir/story.json (cached); returns the picture paths."""
    settings = _settings(options, config, profile)
    with Workspace(story_dir) as ws:
        story = load_story(ws.story_path)
        pipeline.check_story_for_audience(story, settings)  # story.json may have been edited by hand
        return illustrate_stage(ws, story, settings, fresh=fresh, emit=on_event)


def render(story_dir: str | Path, out: str | Path | None = None, *, fresh: bool = False, force: bool = False,
           config: str | Path | None = None, profile: str | None = None, on_event: Listener = ignore,
           narration_audio: str | Path | bool | None = None, **options: Any) -> Result:
    """Narrate, illustrate and render the story.json of story_dir (what is cached is reused) to out, by default
    the folder's name with .mp4; returns the Result, its timeline included.

    narration_audio: as for make (None: the recording the folder remembers, if any).

    >>> storymode.render("fox.storymode", "fox.mp4", resolution="480p")  # doctest: +SKIP
    """
    settings = _settings(options, config, profile)
    story_dir = Path(story_dir)
    target = Path(out) if out else story_dir.with_suffix(".mp4")
    return pipeline.render(story_dir, target, settings, fresh=fresh, force=force, emit=on_event,
                           narration_audio=narration_audio)


def compose(story_dir: str | Path, *, out: str | Path | None = None, fresh: bool = False, force: bool = False,
            config: str | Path | None = None, profile: str | None = None, on_event: Listener = ignore,
            narration_audio: str | Path | bool | None = None, **options: Any) -> Timeline:
    """render(), returning only the timeline (what `storymode compose` prints)."""
    return render(story_dir, out, fresh=fresh, force=force, config=config, profile=profile, on_event=on_event,
                  narration_audio=narration_audio, **options).timeline


def export(story_dir: str | Path, formats: str | list[str] | tuple[str, ...] = "all", *, page_size: str = "a4",
           fresh: bool = False, on_event: Listener = ignore) -> dict[str, Path]:
    """Write the storybook page, the read-aloud EPUB, the PDF book or the editor timelines (formats: "epub,pdf",
    a list, or "all") of a composed story folder under its exports/; returns format -> file. Cached like the
    other outputs.

    >>> storymode.export("fox.storymode", "epub,pdf", page_size="letter")  # doctest: +SKIP
    """
    from .outputs.formats import parse_formats

    names = parse_formats(formats)
    if not names:
        raise UsageError("name at least one export format: " + ", ".join(FORMAT_NAMES) + " (or all)")
    if page_size not in PAGE_SIZES:
        raise UsageError(f"unknown page size {page_size!r}; the sizes are: {', '.join(PAGE_SIZES)}")
    return pipeline.export(Path(story_dir), names, page_size, fresh=fresh, emit=on_event)


__all__ = ["make", "write", "narrate", "illustrate", "render", "compose", "export", "Result", "Story", "Settings",
           "default_story_dir", "load_story"]

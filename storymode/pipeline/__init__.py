"""Runs the stages over a story folder: cached by content keys, atomic, locked, resumable.

One module per stage (write, narrate, illustrate, compose, export); outputs holds which files at the output are the
story's own; reading is the narrate stage from the user's own recording."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings, check_video_path
from ..outputs.formats import check_installed
from ..errors import UsageError
from ..events import Event, Listener, ignore
from ..narrators.audio.recording import check_file as check_recording
from ..story import Story, load_story
from ..timeline import Timeline
from ..workspace import Workspace
from . import reading
from .common import check_backends, stage_backend, warnings_said
from .compose import compose_stage, end_card_credits, owed_credits, video_metadata
from .exports import composed_timeline, export_stage, wanted_formats
from .illustrate import illustrate_stage
from .inputs import MAX_PROMPT, MAX_TEXT_BYTES, clean_prompt, read_user_text
from .narrate import narrate_stage
from .outputs import check_output, claim, is_own, output_paths, remove_stale_temporaries
from .screening import check_request, check_story_for_audience
from .write import understood_note, write_stage

__all__ = ["MAX_PROMPT", "MAX_TEXT_BYTES", "Result", "check_backends", "check_output", "check_request",
           "check_story_for_audience", "claim", "clean_prompt",
           "compose_stage", "composed_timeline", "default_story_dir", "export", "export_stage", "end_card_credits", "illustrate_stage", "is_own", "narrate_stage",
           "output_paths", "owed_credits", "read_user_text", "reading", "remove_stale_temporaries", "render", "run",
           "stage_backend", "understood_note", "video_metadata", "warnings_said", "write_stage"]


@dataclass(frozen=True)
class Result:
    """What a run made: the files, the story, its timeline and the seconds (and cached steps) of each stage.
    exports maps each export format (html, the storybook page, always) to its file under the story folder."""

    video: Path
    srt: Path
    vtt: Path
    story_dir: Path
    story: Story
    timeline: Timeline
    exports: dict[str, Path]
    stage_seconds: dict[str, float]
    cached: dict[str, int]

    @property
    def storybook(self) -> Path:
        """The storybook web page."""
        return self.exports["html"]

    @property
    def duration(self) -> float:
        """The video's length in seconds."""
        return self.timeline.duration


def default_story_dir(out: Path) -> Path:
    """fox.mp4 -> fox.storymode/ beside it."""
    return out.with_suffix(".storymode")


class _StageClock:
    """Passes every event on, and keeps each stage's seconds and cached steps from its stage-end event."""

    def __init__(self, emit: Listener) -> None:
        self.emit = emit
        self.seconds: dict[str, float] = {}
        self.cached: dict[str, int] = {}

    def __call__(self, event: Event) -> None:
        if event.kind == "stage-end" and event.stage:
            self.seconds[event.stage] = round(event.seconds, 3)
            self.cached[event.stage] = event.cached
        self.emit(event)


def _check_before_work(settings: Settings, out: Path, ws: Workspace, force: bool,
                       narration_audio: str | Path | bool | None) -> None:
    """Everything that can be refused is refused before any work: backends, music, output, recording."""
    from ..composers.audio import check_music

    check_backends(settings)
    check_installed(settings.export)
    if settings.music:
        check_music(settings.music)
    check_output(out, ws, force)
    if narration_audio and not reading.wants_voices(narration_audio):
        check_recording(narration_audio)  # a missing or soundless file is refused before any work


def _locked_run(ws: Workspace, out: Path, settings: Settings, story_of: Callable[[Listener], Story], *,
                fresh: bool, force: bool, emit: Listener,
                narration_audio: str | Path | bool | None) -> Result:
    """In the folder's lock: the story (story_of), then narrate, illustrate and compose; the Result."""
    clock = _StageClock(emit)
    with ws:
        remove_stale_temporaries(ws, out)
        story = story_of(clock)
        lines = narrate_stage(ws, story, settings, fresh=fresh, emit=clock, narration_audio=narration_audio)
        images = illustrate_stage(ws, story, settings, fresh=fresh, emit=clock)
        timeline, _ = compose_stage(ws, story, lines, images, out, settings, fresh=fresh, force=force, emit=clock)
        exports = export_stage(ws, story, timeline, wanted_formats(settings.export), settings.page_size,
                               fresh=fresh, emit=clock)
    video, srt, vtt = output_paths(out)
    result = Result(video, srt, vtt, ws.root, story, timeline, exports, clock.seconds, clock.cached)
    emit(Event("done", data={"video": str(video), "srt": str(srt), "vtt": str(vtt), "story_dir": str(ws.root),
                             "storybook": str(result.storybook), "exports": {k: str(v) for k, v in exports.items()},
                             "duration": timeline.duration, "stage_seconds": clock.seconds}))
    return result


def run(prompt: str | None, out: Path, settings: Settings, *, text: str | None = None,
        title: str | None = None, story_dir: Path | None = None, fresh: bool = False, force: bool = False,
        emit: Listener = ignore, narration_audio: str | Path | bool | None = None) -> Result:
    """Every stage, in order, over one locked story folder (narration_audio: see narrate_stage)."""
    out = check_video_path(Path(out))
    check_request(settings, prompt=prompt, text=text, title=title)  # refused before any folder is made
    ws = Workspace(story_dir or default_story_dir(out))
    _check_before_work(settings, out, ws, force, narration_audio)

    def written(clock: Listener) -> Story:
        return write_stage(ws, settings, prompt=prompt, text=text, title=title, fresh=fresh, emit=clock)

    return _locked_run(ws, out, settings, written, fresh=fresh, force=force, emit=emit,
                       narration_audio=narration_audio)


def render(story_dir: Path, out: Path, settings: Settings, *, fresh: bool = False, force: bool = False,
           emit: Listener = ignore, narration_audio: str | Path | bool | None = None) -> Result:
    """Narrate, illustrate and compose the story.json of an existing story folder (what is cached is reused)."""
    out = check_video_path(Path(out))
    ws = Workspace(story_dir)
    _check_before_work(settings, out, ws, force, narration_audio)
    def screened(clock: Listener) -> Story:  # story.json may have been edited since it was written
        story = load_story(ws.story_path)
        check_story_for_audience(story, settings)
        return story

    return _locked_run(ws, out, settings, screened, fresh=fresh, force=force, emit=emit,
                       narration_audio=narration_audio)


def export(story_dir: Path, formats: tuple[str, ...], page_size: str = "a4", *, fresh: bool = False,
           emit: Listener = ignore) -> dict[str, Path]:
    """Write export formats from a composed story folder (its story.json and the timeline its last compose
    built); refused, with what to run first, when the story has no pictures or narration yet."""
    check_installed(formats)
    ws = Workspace(story_dir)
    if not ws.root.is_dir():
        raise UsageError(f"no story folder at {story_dir}: make a story first (storymode make ... -o NAME.mp4)")
    with ws:
        ws.remove_temporaries()
        story, timeline = composed_timeline(ws)
        made = export_stage(ws, story, timeline, formats, page_size, fresh=fresh, emit=emit)
    emit(Event("done", data={"story_dir": str(ws.root), "exports": {k: str(v) for k, v in made.items()}}))
    return made

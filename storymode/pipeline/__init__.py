"""Runs the stages over a story folder: cached by content keys, atomic, locked, resumable.

One module per stage (write, narrate, illustrate, compose); outputs holds which files at the output are the
story's own; reading is the narrate stage from the user's own recording."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings, check_video_path
from ..events import Event, Listener, ignore
from ..narrators.audio.recording import check_file as check_recording
from ..story import Story
from ..workspace import Workspace
from . import reading
from .common import check_backends, warnings_said
from .compose import OPENMOJI_CREDIT, check_music, compose_stage
from .illustrate import illustrate_stage
from .inputs import MAX_PROMPT, MAX_TEXT_BYTES, clean_prompt, read_user_text
from .narrate import narrate_stage
from .outputs import check_output, claim, is_own, output_paths, remove_stale_temporaries
from .write import understood_note, write_stage

__all__ = ["MAX_PROMPT", "MAX_TEXT_BYTES", "OPENMOJI_CREDIT", "Result", "check_backends", "check_music",
           "check_output", "claim", "clean_prompt", "compose_stage", "default_story_dir", "illustrate_stage",
           "is_own", "narrate_stage", "output_paths", "read_user_text", "reading", "remove_stale_temporaries",
           "run", "understood_note", "warnings_said", "write_stage"]


@dataclass
class Result:
    """What a run made: paths, the story, the video's length and the seconds each stage took."""

    video: Path | None
    srt: Path | None
    vtt: Path | None
    story_dir: Path
    story: Story
    storybook: Path | None = None
    duration: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    cached: dict[str, int] = field(default_factory=dict)


def default_story_dir(out: Path) -> Path:
    """fox.mp4 -> fox.storymode/ beside it."""
    return out.with_suffix(".storymode")


def run(prompt: str | None, out: Path, settings: Settings, *, text: str | None = None,
        title: str | None = None, story_dir: Path | None = None, fresh: bool = False, force: bool = False,
        emit: Listener = ignore, narration_audio: str | Path | bool | None = None) -> Result:
    """Every stage, in order, over one locked story folder (narration_audio: see narrate_stage)."""
    out = check_video_path(Path(out))
    ws = Workspace(story_dir or default_story_dir(out))
    check_backends(settings)
    if settings.music:
        check_music(settings.music)
    check_output(out, ws, force)
    if narration_audio and not reading.wants_voices(narration_audio):
        check_recording(narration_audio)  # a missing or soundless file is refused before any work
    seconds: dict[str, float] = {}
    cached: dict[str, int] = {}

    def timed(stage: str):  # type: ignore[no-untyped-def]
        def listener(event: Event) -> None:
            if event.kind == "stage-end":
                seconds[stage] = round(event.seconds, 3)
                cached[stage] = event.cached
            emit(event)
        return listener

    with ws:
        remove_stale_temporaries(ws, out)
        story = write_stage(ws, settings, prompt=prompt, text=text, title=title, fresh=fresh, emit=timed("write"))
        lines = narrate_stage(ws, story, settings, fresh=fresh, emit=timed("narrate"), narration_audio=narration_audio)
        images = illustrate_stage(ws, story, settings, fresh=fresh, emit=timed("illustrate"))
        timeline, _ = compose_stage(ws, story, lines, images, out, settings, fresh=fresh, force=force,
                                    emit=timed("compose"))
    video, srt, vtt = output_paths(out)
    result = Result(video, srt, vtt, ws.root, story, ws.root / "storybook.html", timeline.duration, seconds, cached)
    emit(Event("done", data={"video": str(video), "srt": str(srt), "vtt": str(vtt), "story_dir": str(ws.root),
                             "storybook": str(result.storybook),
                             "duration": timeline.duration, "stage_seconds": seconds}))
    return result

"""The compose stage: the timeline, the captions and the video (exports.py makes the storybook page and the rest)."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..config import Settings
from ..events import Event, Listener, ignore
from ..registry import STAGES
from ..story import Story, one_line
from ..timeline import LineAudio, Timeline, build_timeline, frame_size
from ..workspace import Workspace, artifact_key, atomic_write_text, file_sha256, file_stamp
from .reading import META as READING_META
from .common import stage_backend
from .exports import TIMELINE_META, story_key
from .outputs import (FileStamp, RenderedVideo, check_output, claim, is_own, output_paths, rendered_output,
                      staged_path, write_sidecar)

if TYPE_CHECKING:
    from ..composers.base import Composer, FrameProgress

READ_ALOUD_CREDIT = "Narration: read aloud by the storyteller"


def owed_credits(settings: Settings, read_aloud: bool) -> list[str]:
    """What the chosen backends credit (Backend.credits), each line once; no narrator's for a story read aloud."""
    stages = [stage for stage in STAGES if not (read_aloud and stage == "narrator")]
    return list(dict.fromkeys(line for stage in stages for line in stage_backend(stage, settings).credit_lines()))


def end_card_credits(settings: Settings, read_aloud: bool, owed: list[str]) -> list[str]:
    """The end card's lines: the backends that made the story, then what they credit."""
    return [f"Written by storymode {__version__} ({settings.writer})",
            READ_ALOUD_CREDIT if read_aloud else f"Voices: {settings.narrator}",
            f"Pictures: {settings.illustrator}", *owed]


def video_metadata(story: Story, owed: list[str]) -> dict[str, str]:
    """The video's tags: title, description and what the backends credit (as its comment and copyright)."""
    metadata = {"title": story.title, "artist": "storymode", "comment": " ".join(["Made with storymode.", *owed]),
                "description": (story.prompt or "")[:500]}
    if owed:
        metadata["copyright"] = "; ".join(owed)
    return metadata


def _render(ws: Workspace, composer: Composer, timeline: Timeline, out: Path, key: str, metadata: dict,
            progress: FrameProgress, titles: list[str]) -> None:
    """Render to a staged file, claim it (stamp and content hash) with the render's key, then rename it to out."""
    staged = staged_path(out)
    try:
        composer.compose(timeline, staged, ws.build_dir(), metadata, progress, chapter_titles=titles)
        stamp, digest = FileStamp.of(staged), file_sha256(staged)  # a rename keeps size and mtime: both hold for out
        claim(ws, out, stamp=stamp, sha256=digest,
              output=RenderedVideo(path=str(out.resolve()), key=key, stamp=stamp, sha256=digest))
        os.replace(staged, out)
    finally:
        staged.unlink(missing_ok=True)


def compose_stage(ws: Workspace, story: Story, lines: list[list[LineAudio]], images: list[str], out: Path,
                  settings: Settings, *, fresh: bool = False, force: bool = False,
                  emit: Listener = ignore) -> tuple[Timeline, bool]:
    """The timeline, the captions and the video; skipped when this exact render already sits at out."""
    from ..composers.audio import check_music
    from ..composers.base import Composer
    from ..composers.captions import to_srt, to_vtt

    t0 = time.perf_counter()
    check_output(out, ws, force)
    width, height = frame_size(settings.aspect, settings.resolution)
    composer = stage_backend("composer", settings)
    assert isinstance(composer, Composer)
    read_aloud = bool(ws.get_meta(READING_META))  # the user's own reading was recorded
    owed = owed_credits(settings, read_aloud)
    music = check_music(settings.music) if settings.music else None
    timeline = build_timeline(story, lines, images, width=width, height=height, fps=settings.fps,
                              credits=end_card_credits(settings, read_aloud, owed),
                              music=music)
    atomic_write_text(ws.build_dir() / "timeline.json", timeline.model_dump_json(indent=1))
    ws.set_meta(TIMELINE_META, {"story": story_key(story)})  # exports made later check they show this story
    metadata = video_metadata(story, owed)
    # narration files are content-addressed, so their names stand for their bytes in the key
    music_stamp = file_stamp(Path(music)) if music else None
    key = artifact_key("video", composer.fingerprint(), timeline.model_dump(mode="json"), metadata, music_stamp)
    video, srt, vtt = output_paths(out)
    own = rendered_output(ws)
    frames = round(timeline.duration * timeline.fps)
    emit(Event("stage-start", "compose", total=frames))
    if force:  # the user let us overwrite what is there: a rerun after an interrupt needs no --force again
        for path in (video, srt, vtt):
            if not is_own(ws, path):
                claim(ws, path, stamp=FileStamp.of(path))
    rendered = (not fresh and own is not None and own.key == key and own.path == str(out.resolve())
                and own.matches(video) and all(p.exists() and is_own(ws, p) for p in (srt, vtt)))
    if not rendered:
        write_sidecar(ws, srt, to_srt(timeline.cues))
        write_sidecar(ws, vtt, to_vtt(timeline.cues))
        titles = [one_line(s.lines[0].text, 60) for s in story.scenes]

        def progress(done: int, total: int) -> None:
            emit(Event("step", "compose", done=done, total=total))

        _render(ws, composer, timeline, out, key, metadata, progress, titles)
    emit(Event("stage-end", "compose", done=frames, total=frames, cached=frames if rendered else 0,
               seconds=time.perf_counter() - t0))
    return timeline, rendered

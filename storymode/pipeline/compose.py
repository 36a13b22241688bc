"""The compose stage: the timeline, the captions and the video (exports.py makes the storybook page and the rest)."""
from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
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
from .credentials import chain_id, credit_video, signing_chain, video_provenance
from .write import STORY_FROM_META
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


def ai_notice(settings: Settings, read_aloud: bool, own_text: bool) -> str:
    """One sentence saying what was made with AI and by which backends (the person's own words and voice are
    said to be theirs)."""
    made = [] if own_text else [f"the story by {settings.writer}"]
    made += [] if read_aloud else [f"the voices by {settings.narrator}"]
    made.append(f"the pictures by {settings.illustrator}")
    theirs = [what for what, own in (("text", own_text), ("reading", read_aloud)) if own]
    tail = f"; the {' and '.join(theirs)} by a person" if theirs else ""
    return f"Made with AI: {', '.join(made[:-1]) + ' and ' if len(made) > 1 else ''}{made[-1]}{tail}."


def end_card_credits(settings: Settings, read_aloud: bool, owed: list[str], own_text: bool = False) -> list[str]:
    """The end card's lines: the AI notice (unless turned off), the backends that made the story, then what they
    credit."""
    notice = [ai_notice(settings, read_aloud, own_text)] if settings.ai_notice else []
    made = "Scenes cut" if own_text else "Written"  # the person's own text is theirs; storymode only cut it
    return [*notice, f"{made} by storymode {__version__} ({settings.writer})",
            READ_ALOUD_CREDIT if read_aloud else f"Voices: {settings.narrator}",
            f"Pictures: {settings.illustrator}", *owed]


def video_metadata(story: Story, owed: list[str], notice: str = "") -> dict[str, str]:
    """The video's tags: title, description, the AI notice and what the backends credit (as its comment and
    copyright)."""
    comment = " ".join(part for part in ("Made with storymode.", notice, *owed) if part)
    metadata = {"title": story.title, "artist": "storymode", "comment": comment,
                "description": (story.prompt or "")[:500]}
    if owed:
        metadata["copyright"] = "; ".join(owed)
    return metadata


def _render(ws: Workspace, composer: Composer, timeline: Timeline, out: Path, key: str, metadata: dict,
            progress: FrameProgress, titles: list[str], credit: Callable[[Path], None] | None = None) -> None:
    """Render to a staged file, sign it (credit), claim it (stamp and content hash) with the render's key, then
    rename it to out."""
    staged = staged_path(out)
    try:
        composer.compose(timeline, staged, ws.build_dir(), metadata, progress, chapter_titles=titles)
        if credit is not None:
            credit(staged)
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
    own_text = ws.get_meta(STORY_FROM_META) == "text"
    owed = owed_credits(settings, read_aloud)
    music = check_music(settings.music) if settings.music else None
    timeline = build_timeline(story, lines, images, width=width, height=height, fps=settings.fps,
                              credits=end_card_credits(settings, read_aloud, owed, own_text),
                              music=music)
    atomic_write_text(ws.build_dir() / "timeline.json", timeline.model_dump_json(indent=1))
    ws.set_meta(TIMELINE_META, {"story": story_key(story)})  # exports made later check they show this story
    metadata = video_metadata(story, owed, ai_notice(settings, read_aloud, own_text))
    # narration files are content-addressed, so their names stand for their bytes in the key
    music_stamp = file_stamp(Path(music)) if music else None
    chain = signing_chain(settings)
    key = artifact_key("video", composer.fingerprint(), timeline.model_dump(mode="json"), metadata, music_stamp,
                       chain_id(chain))
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

        credit = None
        if chain is not None:
            provenance = video_provenance(story.title, settings, read_aloud=read_aloud, own_text=own_text)
            credit = functools.partial(credit_video, provenance=provenance, chain=chain)
        _render(ws, composer, timeline, out, key, metadata, progress, titles, credit)
    emit(Event("stage-end", "compose", done=frames, total=frames, cached=frames if rendered else 0,
               seconds=time.perf_counter() - t0))
    return timeline, rendered

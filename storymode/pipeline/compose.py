"""The compose stage: the timeline, the captions, the video and the storybook page."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..config import Settings
from ..errors import UsageError
from ..events import Event, Listener, ignore
from ..story import Story, one_line
from ..timeline import LineAudio, Timeline, build_timeline, frame_size
from ..workspace import Workspace, artifact_key, atomic_write_text, file_sha256, file_stamp
from . import reading
from .common import stage_backend
from .outputs import _matches, _staged, _write_sidecar, check_output, claim, is_own, output_paths

if TYPE_CHECKING:
    from ..composers.base import Composer, FrameProgress


OPENMOJI_CREDIT = "Illustrations use OpenMoji (openmoji.org), CC BY-SA 4.0"


def _render(ws: Workspace, composer: Composer, timeline: Timeline, out: Path, key: str, metadata: dict,
            progress: FrameProgress, titles: list[str]) -> None:
    """Render to a staged file, claim it (stamp and content hash) with the render's key, then rename it to out."""
    staged = _staged(out)
    try:
        composer.compose(timeline, staged, ws.build_dir(), metadata, progress,
                         chapter_titles=titles)
        stamp, digest = file_stamp(staged), file_sha256(staged)  # a rename keeps size and mtime: both hold for out
        claim(ws, out, stamp=stamp, sha256=digest,
              output={"path": str(out.resolve()), "key": key, "stamp": stamp, "sha256": digest})
        os.replace(staged, out)
    finally:
        staged.unlink(missing_ok=True)


def check_music(path: str) -> str:
    """The music file's absolute path, once ffmpeg has found an audio stream in it."""
    import subprocess

    from ..ffmpeg_exe import ffmpeg_exe

    music = Path(path).expanduser()
    if not music.is_file():
        raise UsageError(f"--music {path}: no such file")
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(music), "-map", "0:a:0", "-t", "0.5",
                            "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0 or "Audio:" not in probe.stderr:
        raise UsageError(f"--music {path}: ffmpeg finds no audio in this file; give an mp3, wav, ogg, m4a or flac")
    return str(music.resolve())


def compose_stage(ws: Workspace, story: Story, lines: list[list[LineAudio]], images: list[str], out: Path,
                  settings: Settings, *, fresh: bool = False, force: bool = False,
                  emit: Listener = ignore) -> tuple[Timeline, bool]:
    """The timeline, the captions and the video; skipped when this exact render already sits at out."""
    from ..composers.base import Composer
    from ..composers.captions import to_srt, to_vtt
    from ..outputs.storybook_page import write_storybook

    t0 = time.perf_counter()
    check_output(out, ws, force)
    width, height = frame_size(settings.aspect, settings.resolution)
    composer = stage_backend("composer", settings)
    assert isinstance(composer, Composer)
    voices = ("Narration: read aloud by the storyteller" if ws.get_meta(reading.META)
              else f"Voices: {settings.narrator}")
    credits = [f"Written by storymode {__version__} ({settings.writer})",
               voices, f"Pictures: {settings.illustrator}", OPENMOJI_CREDIT]
    music = check_music(settings.music) if settings.music else None
    timeline = build_timeline(story, lines, images, width=width, height=height, fps=settings.fps, credits=credits,
                              music=music)
    atomic_write_text(ws.build_dir() / "timeline.json", timeline.model_dump_json(indent=1))
    metadata = {"title": story.title, "artist": "storymode", "comment": f"Made with storymode. {OPENMOJI_CREDIT}",
                "description": (story.prompt or "")[:500], "copyright": OPENMOJI_CREDIT}
    # narration files are content-addressed, so their names stand for their bytes in the key
    music_stamp = file_stamp(Path(music)) if music else None
    key = artifact_key("video", composer.fingerprint(), timeline.model_dump(mode="json"), metadata, music_stamp)
    video, srt, vtt = output_paths(out)
    own = ws.get_meta("output") or {}
    frames = round(timeline.duration * timeline.fps)
    emit(Event("stage-start", "compose", total=frames))
    storybook = ws.root / "storybook.html"
    if force:  # the user let us overwrite what is there: a rerun after an interrupt needs no --force again
        for path in (video, srt, vtt):
            if not is_own(ws, path):
                claim(ws, path, stamp=file_stamp(path))
    rendered = (not fresh and own.get("key") == key and own.get("path") == str(out.resolve())
                and _matches(video, own) and all(p.exists() and is_own(ws, p) for p in (srt, vtt)))
    if not rendered:
        _write_sidecar(ws, srt, to_srt(timeline.cues))
        _write_sidecar(ws, vtt, to_vtt(timeline.cues))
        titles = [one_line(s.lines[0].text, 60) for s in story.scenes]

        def progress(done: int, total: int) -> None:
            emit(Event("step", "compose", done=done, total=total))

        _render(ws, composer, timeline, out, key, metadata, progress, titles)
    elif storybook.is_file():
        emit(Event("stage-end", "compose", done=frames, total=frames, cached=frames,
                   seconds=time.perf_counter() - t0))
        return timeline, True
    write_storybook(story, timeline, storybook)
    emit(Event("stage-end", "compose", done=frames, total=frames, cached=frames if rendered else 0,
               seconds=time.perf_counter() - t0))
    return timeline, rendered

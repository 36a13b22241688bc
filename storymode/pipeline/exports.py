"""The export stage: the storybook page, and the books and editor timelines asked for, under exports/.

Each file is keyed by its format, the story and the timeline it shows (media files are content-addressed, so their
names stand for their bytes), and is made again only when that key changes or the file is no longer the one
written. Each lands by rename: a run stopped, or a disk that fills, leaves nothing half-written under its name."""
from __future__ import annotations

import errno
import time
from pathlib import Path

from ..errors import UsageError
from ..events import Event, Listener, ignore
from ..outputs.base import ExportJob
from ..outputs.formats import FORMATS, ExportFormat, check_installed
from ..story import Story, load_story
from ..timeline import Timeline
from ..workspace import Workspace, artifact_key, atomic_path, file_sha256
from .outputs import FileClaim, FileStamp

META = "exports"  # manifest entry: file (exports/NAME) -> {"format", "key", "stamp", "sha256"}
TIMELINE_META = "timeline"  # manifest entry: {"story": key of the story the last timeline was built from}
NO_ROOM = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def story_key(story: Story) -> str:
    """The key of a story's content, kept with the timeline built from it."""
    return artifact_key("story", story.model_dump(mode="json"))


def wanted_formats(asked: tuple[str, ...]) -> tuple[str, ...]:
    """The formats a run writes: the storybook page always, then those asked for, in the registry's order."""
    return tuple(name for name in FORMATS if name == "html" or name in asked)


def _key(fmt: ExportFormat, job: ExportJob) -> str:
    page = job.page_size if "{page_size}" in fmt.filename else None
    return artifact_key("export", fmt.name, fmt.version, page, job.story.model_dump(mode="json"),
                        job.timeline.model_dump(mode="json"))


def _is_current(ws: Workspace, dest: Path, key: str) -> bool:
    records = ws.get_meta(META)
    record = records.get(ws.relative(dest)) if isinstance(records, dict) else None
    if not isinstance(record, dict) or record.get("key") != key:
        return False
    try:
        claim = FileClaim.model_validate(record)
    except ValueError:
        return False
    return claim.matches(dest)


def _remember(ws: Workspace, fmt: ExportFormat, dest: Path, key: str) -> None:
    records = ws.get_meta(META)
    records = records if isinstance(records, dict) else {}
    stamp = FileStamp.of(dest)
    records[ws.relative(dest)] = {"format": fmt.name, "key": key, "sha256": file_sha256(dest),
                                  "stamp": stamp.model_dump() if stamp else None}
    ws.set_meta(META, records)


def _write(fmt: ExportFormat, job: ExportJob, dest: Path, shown: str) -> None:
    """Write one format by rename; a full disk becomes a UsageError and leaves nothing under dest's name."""
    try:
        with atomic_path(dest) as tmp:
            fmt.write(job, tmp)
    except OSError as err:
        if err.errno in NO_ROOM:
            raise UsageError(f"no room to write {shown} ({err.strerror}); nothing was left under that name: "
                             "free some space and run again") from None
        raise


def export_stage(ws: Workspace, story: Story, timeline: Timeline, formats: tuple[str, ...], page_size: str = "a4",
                 *, fresh: bool = False, emit: Listener = ignore) -> dict[str, Path]:
    """Write each format (in the folder's lock) under exports/; reuse what this exact story and timeline already
    made. Returns format -> file."""
    check_installed(formats)
    t0 = time.perf_counter()
    job = ExportJob(story=story, timeline=timeline, story_dir=ws.root, page_size=page_size)  # type: ignore[arg-type]
    folder = ws.exports_dir()
    folder.mkdir(exist_ok=True)
    made: dict[str, Path] = {}
    cached = 0
    emit(Event("stage-start", "export", total=len(formats)))
    for done, name in enumerate(formats, 1):
        fmt = FORMATS[name]
        dest = folder / fmt.file_name(job)
        key = _key(fmt, job)
        if not fresh and _is_current(ws, dest, key):
            cached += 1
        else:
            _write(fmt, job, dest, ws.relative(dest))
            _remember(ws, fmt, dest, key)
        made[name] = dest
        emit(Event("step", "export", done=done, total=len(formats), cached=cached))
    emit(Event("stage-end", "export", done=len(formats), total=len(formats), cached=cached,
               seconds=time.perf_counter() - t0))
    return made


def composed_timeline(ws: Workspace) -> tuple[Story, Timeline]:
    """The story and the timeline its last compose built, refused (with what to run first) when there is no story,
    no timeline, a timeline of an older story.json, or pictures or narration that are gone."""
    folder = ws.root
    if not ws.story_path.is_file():
        raise UsageError(f"{folder} holds no story.json: make a story first (storymode make, or storymode write "
                         f"-d {folder})")
    story = load_story(ws.story_path)
    first = f"run `storymode compose -d {folder}` first (it narrates, illustrates and renders; what is cached is reused)"
    raw = ws.read_json(ws.build_dir() / "timeline.json")
    if raw is None:
        raise UsageError(f"this story has no pictures and narration in a timeline yet: {first}")
    try:
        timeline = Timeline.model_validate(raw)
    except ValueError:
        raise UsageError(f"build/timeline.json cannot be read: {first}") from None
    record = ws.get_meta(TIMELINE_META)
    made_from = record.get("story") if isinstance(record, dict) else None
    if made_from != story_key(story):
        raise UsageError("story.json has changed since the story was last composed (or an older storymode composed "
                         f"it): {first}")
    missing = [p for p in [*(s.image for s in timeline.scenes), *(a.path for a in timeline.audio)]
               if not Path(p).is_file()]
    if missing:
        raise UsageError(f"{ws.relative(Path(missing[0]))} is gone (pictures or narration were removed): {first}")
    return story, timeline

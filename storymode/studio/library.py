"""The studio's folder of stories, read without taking any lock: which stories there are, each one's card (title,
length, state, poster), the settings it is made with, which picture and narration each scene has now, and the
files a rendered story offers for download.

Every story lives in the folder as ``<id>.storymode/`` (its video beside it as ``<id>.mp4``, ``.srt``, ``.vtt``).
A story folder may come from elsewhere, so what it says about its own settings is read as untrusted data."""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings, check_untrusted, own_config_hint, resolve_settings
from ..errors import StorymodeError, UsageError
from ..story import Story, load_story, slug
from ..timeline import ASPECTS, RESOLUTIONS, frame_size
from ..workspace import Workspace, is_plain_file
from .security import STORY_ID, STORY_SUFFIX, story_folder

SETTINGS_META = "studio"  # manifest entry: the settings the studio made the story with (untrusted when read back)
REMEMBERED = ("writer", "narrator", "illustrator", "options", "scenes", "audience", "style", "tone",
              "words_per_scene", "aspect", "resolution", "fps", "seed")
STATES = ("written", "narrated", "illustrated", "rendered")
EXPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


@dataclass(frozen=True)
class StoryCard:
    """One story of the library: what its card shows."""

    id: str
    title: str
    scenes: int
    duration: float | None  # seconds, once composed
    state: str  # one of STATES
    poster: str | None  # the id of its first scene when that scene has a picture
    problem: str = ""  # why the story cannot be read (a broken story.json), said on its card


@dataclass(frozen=True)
class Download:
    """A file a story offers: what it is, its name, and where the studio serves it."""

    label: str
    name: str
    url: str
    path: Path


# ---------------------------------------------------------------- which stories
def story_ids(root: Path) -> list[str]:
    """The ids of the story folders directly under root (real folders with a story.json), newest first."""
    found: list[tuple[float, str]] = []
    try:
        entries = list(os.scandir(root))
    except OSError as err:
        raise UsageError(f"cannot read the folder {root}: {err.strerror}") from None
    for entry in entries:
        story_id = entry.name[: -len(STORY_SUFFIX)]
        if not entry.name.endswith(STORY_SUFFIX) or not STORY_ID.fullmatch(story_id):
            continue
        if not entry.is_dir(follow_symlinks=False) or not is_plain_file(Path(entry.path) / "story.json"):
            continue
        found.append((os.lstat(Path(entry.path) / "story.json").st_mtime, story_id))
    return [story_id for _, story_id in sorted(found, key=lambda pair: (-pair[0], pair[1]))]


def new_story_id(root: Path, words: str) -> str:
    """A free id for a new story, made from its first words (fox-and-owl, fox-and-owl-2, ...)."""
    base = slug(" ".join(words.split()[:6]), "story")[:40].strip("-") or "story"
    candidate, n = base, 1
    while os.path.lexists(root / f"{candidate}{STORY_SUFFIX}") or os.path.lexists(root / f"{candidate}.mp4"):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def video_path(root: Path, story_id: str) -> Path:
    """Where the studio renders a story: <id>.mp4 beside its folder."""
    return Path(root).resolve() / f"{story_id}.mp4"


# ---------------------------------------------------------------- settings
def remembered_settings(folder: Path) -> dict[str, Any]:
    """The settings the studio made this story with (from its manifest), else the frame size of its last render;
    checked as untrusted data: a folder from elsewhere may not turn on code, route keys or reach outside itself."""
    ws = Workspace(folder)
    raw = ws.get_meta(SETTINGS_META)
    data = {k: v for k, v in raw.items() if k in REMEMBERED} if isinstance(raw, dict) else {}
    if not data:
        data = _from_timeline(ws)
    source = f"{folder.name}/manifest.json ({SETTINGS_META})"
    try:
        effective = Settings.model_validate(data)
    except ValueError:
        raise UsageError(f"{source}: the settings it remembers are not valid; delete that entry or make the "
                         "story again") from None
    check_untrusted(data, source, folder, effective, hint=own_config_hint())
    return data


def _from_timeline(ws: Workspace) -> dict[str, Any]:
    """aspect, resolution and fps of the story's last render (a story made with the CLI), or nothing."""
    timeline = ws.read_json(ws.root / "build" / "timeline.json")
    if not isinstance(timeline, dict):
        return {}
    size = (timeline.get("width"), timeline.get("height"))
    for aspect in ASPECTS:
        for resolution in RESOLUTIONS:
            if frame_size(aspect, resolution) == size:
                fps = timeline.get("fps")
                return {"aspect": aspect, "resolution": resolution, **({"fps": fps} if fps in (24, 25, 30) else {})}
    return {}


def story_settings(folder: Path, trusted: dict[str, Any] | None = None) -> Settings:
    """The settings a story is narrated, drawn and rendered with: the defaults, storymode.toml and the
    environment, then what the story remembers (or trusted: the settings the user gave this studio for it, which
    may name their own model folders)."""
    return resolve_settings(trusted if trusted is not None else remembered_settings(folder))


# ---------------------------------------------------------------- what the folder holds for each scene and line
def scene_pictures(folder: Path, story: Story, settings: Settings, only: int | None = None) -> list[Path | None]:
    """Each scene's current picture (keyed as the illustrate stage keys it), None where it is not drawn yet; with
    only, just that scene's (the others None), so serving one picture costs one key."""
    from ..pipeline.common import stage_backend
    from ..pipeline.illustrate import picture_key, picture_size, scene_request

    illustrator = stage_backend("illustrator", settings)
    width, height = picture_size(settings)
    art = folder / "art"
    found: list[Path | None] = []
    for index in range(len(story.scenes)):
        if only is not None and index != only:
            found.append(None)
            continue
        key = picture_key(illustrator, story, scene_request(story, index, width, height))  # type: ignore[arg-type]
        png = art / f"{key}.png"
        found.append(png if is_plain_file(png) and is_plain_file(art / f"{key}.json") else None)
    return found


def line_narrations(folder: Path, story: Story, settings: Settings) -> list[list[Path | None]]:
    """Each line's current narration wav (keyed as the narrate stage keys it), None where not narrated yet."""
    from ..cast import assign_cast, load_presets
    from ..pipeline.common import stage_backend
    from ..pipeline.narrate import line_key

    narrator = stage_backend("narrator", settings)
    cast = assign_cast(story, load_presets(), narrator.name)
    out: list[list[Path | None]] = []
    for scene in story.scenes:
        row: list[Path | None] = []
        for line in scene.lines:
            key = line_key(narrator, cast[line.speaker], line)
            wav = folder / "narration" / f"{key}.wav"
            row.append(wav if is_plain_file(wav) and is_plain_file(wav.with_suffix(".json")) else None)
        out.append(row)
    return out


def story_state(root: Path, story_id: str, story: Story, settings: Settings, *,
                pictures: list[Path | None] | None = None, narrations: list[list[Path | None]] | None = None) -> str:
    """How far the story has come: rendered (its video shows this story), illustrated, narrated or written.
    pictures and narrations: scene_pictures and line_narrations when already found."""
    from ..pipeline.exports import TIMELINE_META, story_key
    from ..pipeline.outputs import rendered_output
    from ..pipeline.reading import META as READING_META

    folder = story_folder(root, story_id)
    ws = Workspace(folder)
    manifest = ws.read_manifest()
    shown = manifest.get(TIMELINE_META)
    own = rendered_output(ws)
    video = video_path(root, story_id)
    # the video beside the folder is the story's last render (by its stamp or content: a moved folder keeps it)
    if (isinstance(shown, dict) and shown.get("story") == story_key(story) and is_plain_file(video)
            and own is not None and own.matches(video)):
        return "rendered"
    if narrations is None:
        narrations = line_narrations(folder, story, settings)
    narrated = bool(manifest.get(READING_META)) or all(path is not None for row in narrations for path in row)
    if pictures is None:
        pictures = scene_pictures(folder, story, settings)
    if narrated and all(path is not None for path in pictures):
        return "illustrated"
    return "narrated" if narrated else "written"


def timeline_duration(folder: Path) -> float | None:
    """The length in seconds of the story's last composed timeline, if it has one."""
    data = Workspace(folder).read_json(folder / "build" / "timeline.json")
    duration = data.get("duration") if isinstance(data, dict) else None
    return float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None


def read_card(root: Path, story_id: str, trusted: dict[str, Any] | None = None) -> StoryCard:
    """A story's card; a story that cannot be read still gets one, saying why (trusted: see story_settings)."""
    folder = story_folder(root, story_id)
    try:
        story = load_story(folder / "story.json")
    except StorymodeError as err:
        return StoryCard(story_id, story_id, 0, None, "written", None, problem=str(err).splitlines()[0])
    try:
        settings = story_settings(folder, trusted)
        state = story_state(root, story_id, story, settings)
        poster = story.scenes[0].id if scene_pictures(folder, story, settings)[0] is not None else None
    except StorymodeError as err:
        return StoryCard(story_id, story.title, len(story.scenes), timeline_duration(folder), "written", None,
                         problem=str(err).splitlines()[0])
    return StoryCard(story_id, story.title, len(story.scenes), timeline_duration(folder), state, poster)


def list_stories(root: Path, trusted: Mapping[str, dict[str, Any]] | None = None) -> list[StoryCard]:
    """Every story of the folder, newest first (trusted: story id -> its settings, see story_settings)."""
    return [read_card(root, story_id, (trusted or {}).get(story_id)) for story_id in story_ids(root)]


# ---------------------------------------------------------------- downloads
def downloads(root: Path, story_id: str) -> list[Download]:
    """The files a story has made that exist now: the video, its captions, and everything under exports/."""
    folder = story_folder(root, story_id)
    video = video_path(root, story_id)
    base = f"/s/{story_id}/files"
    results = (("Video (MP4)", "video", video), ("Captions (SRT)", "srt", video.with_suffix(".srt")),
               ("Captions (WebVTT)", "vtt", video.with_suffix(".vtt")))
    out = [Download(label, path.name, f"{base}/{kind}", path) for label, kind, path in results if is_plain_file(path)]
    exports = folder / "exports"
    if exports.is_dir() and not exports.is_symlink():
        for entry in sorted(os.scandir(exports), key=lambda e: e.name):
            if EXPORT_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                label = "Storybook page" if entry.name == "storybook.html" else f"Export: {entry.name}"
                out.append(Download(label, entry.name, f"{base}/exports/{entry.name}", Path(entry.path)))
    return out


def download_file(root: Path, story_id: str, kind: str, name: str | None = None) -> Path:
    """The file behind one download link (video, srt, vtt, or exports/NAME); UnknownStory-style 404 otherwise."""
    for item in downloads(root, story_id):
        wanted = f"/s/{story_id}/files/{kind}" + (f"/{name}" if name is not None else "")
        if item.url == wanted:
            return item.path
    raise FileNotFoundError(kind if name is None else f"{kind}/{name}")


def plain_file_bytes(path: Path) -> bytes:
    """A story's file read without following a link (never anything but a regular file)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileNotFoundError(path)
        return fh.read()

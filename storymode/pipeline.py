"""Runs the stages over a story folder: cached by content keys, atomic, locked, resumable."""
from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, recorded
from .cast import assign_cast, load_presets
from .config import Settings, check_video_path
from .errors import UsageError
from .events import Event, Listener, ignore
from .illustrators.base import IllustrationRequest, Illustrator
from .narrators.base import Narrator
from .narrators.speakable import RULES as SPEAKABLE_RULES
from .narrators.recording import check_file as check_recording
from .registry import create
from .story import Story, clean_text, load_story, one_line
from .timeline import LineAudio, Timeline, build_timeline, frame_size, line_audio
from .workspace import (Workspace, artifact_key, atomic_path, atomic_write_bytes, atomic_write_json,
                        atomic_write_text, sweep_temporaries)
from .writers.base import WriteRequest, Writer

if TYPE_CHECKING:
    from .composers.base import Composer, FrameProgress

OPENMOJI_CREDIT = "Illustrations use OpenMoji (openmoji.org), CC BY-SA 4.0"
MAX_PROMPT = 100_000
MAX_TEXT_BYTES = 2_000_000


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


def check_backends(settings: Settings) -> None:
    """Every chosen backend exists, accepts its options and can run here: checked before any work."""
    from .registry import STAGES, backend_class, parse_options

    for stage in STAGES:
        cls = backend_class(stage, settings.backend(stage))
        parse_options(cls, settings.options.get(stage, {}))
        ok, why = cls.usable()
        if not ok:
            from .errors import MissingDependency

            raise MissingDependency(f"the {stage} {cls.name!r} cannot run here: {why}")


def _backend(settings_stage: str, settings: Settings) -> object:
    return create(settings_stage, settings.backend(settings_stage), settings.options.get(settings_stage, {}))


def clean_prompt(prompt: str) -> str:
    """The prompt without control characters; errors for empty or overlong prompts."""
    if not isinstance(prompt, str):
        raise UsageError("the prompt must be text")
    if len(prompt) > MAX_PROMPT:
        raise UsageError(f"the prompt is {len(prompt):,} characters; the limit is {MAX_PROMPT:,}. "
                         "Shorten it, or pass a long text with --from FILE")
    cleaned = clean_text(prompt)
    if not cleaned:
        raise UsageError("the prompt is empty; say what the story is about, e.g. \"a shy fox who learns to fly\"")
    return cleaned


def read_user_text(path: str | Path) -> str:
    """The user's own story text from a .txt or .md file; clear errors for missing, binary or empty files."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--from {path}: no such file")
    data = path.read_bytes()
    if len(data) > MAX_TEXT_BYTES:
        raise UsageError(f"--from {path}: the file is {len(data):,} bytes; the limit is {MAX_TEXT_BYTES:,}")
    if b"\x00" in data:
        raise UsageError(f"--from {path}: this looks like a binary file; give a plain text (.txt or .md) file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"--from {path}: the file is not UTF-8 text; save it as UTF-8 and try again") from None
    text = clean_text(text)
    if not text:
        raise UsageError(f"--from {path}: the file is empty")
    return text


@contextmanager
def warnings_said(emit: Listener, stage: str) -> Iterator[None]:
    """A backend's UserWarnings (not libraries' deprecation notices) become warning events: said, never silent."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            emit(Event("warning", stage, message=str(warning.message)))


# ---------------------------------------------------------------- write
def understood_note(story: Story) -> str:
    """One line saying what the writer understood: the prompt's request, or the text's cast and places."""
    if story.request is not None and story.request.summary():
        return f"read the prompt as {story.request.summary()} (story.json: request)"
    cast = ", ".join(f"{c.name} ({c.kind})" for c in story.characters[:6]) or "no characters"
    places = ", ".join(dict.fromkeys(sc.brief.setting for sc in story.scenes))
    return f"read {story.title!r}: {cast}; {places}"


def write_stage(ws: Workspace, settings: Settings, *, prompt: str | None = None, text: str | None = None,
                title: str | None = None, fresh: bool = False, emit: Listener = ignore) -> Story:
    """story.json for the request: reused (with the user's edits) when the request is unchanged."""
    t0 = time.perf_counter()
    emit(Event("stage-start", "write", total=1))
    writer = _backend("writer", settings)
    assert isinstance(writer, Writer)
    if prompt is None and text is None:
        if not ws.story_path.exists():
            raise UsageError(f"{ws.root} has no story.json yet; give a prompt or --from FILE")
        story = load_story(ws.story_path)
        emit(Event("stage-end", "write", done=1, total=1, cached=1, seconds=time.perf_counter() - t0))
        return story
    request = WriteRequest(prompt=title or prompt or "story", scenes=settings.scenes, audience=settings.audience,
                           style=settings.style, tone=settings.tone, words_per_scene=settings.words_per_scene,
                           seed=settings.seed)
    text_hash = hashlib.sha256(text.encode()).hexdigest() if text is not None else None
    key = artifact_key("story", writer.fingerprint(), request.model_dump(), text_hash)
    if not fresh and ws.story_path.exists() and ws.get_meta("story_key") in (key, None):
        story = load_story(ws.story_path)
        emit(Event("stage-end", "write", done=1, total=1, cached=1, seconds=time.perf_counter() - t0))
        return story
    if ws.story_path.exists():  # a different request: keep the old story (maybe edited) beside the new one
        atomic_write_text(ws.root / "story.previous.json", ws.story_path.read_text(encoding="utf-8"))
    if hasattr(writer, "raw_dir"):  # LLM writers save replies they could not use here, for the user to read
        writer.raw_dir = ws.build_dir()
    with warnings_said(emit, "write"):  # e.g. a prompt in a language the planner does not write
        story = writer.segment(text, request) if text is not None else writer.write(request)
    atomic_write_text(ws.story_path, story.to_json())
    ws.set_meta("story_key", key)
    emit(Event("note", "write", message=understood_note(story), data={"title": story.title}))
    emit(Event("step", "write", done=1, total=1))
    emit(Event("stage-end", "write", done=1, total=1, seconds=time.perf_counter() - t0))
    return story


# ---------------------------------------------------------------- narrate
def _line_audio(wav: Path, timings: dict, speaker: str, pause_after: float | None) -> LineAudio:
    return line_audio(str(wav), timings, speaker, pause_after)  # validated: an edited file may hold anything


def narrate_stage(ws: Workspace, story: Story, settings: Settings, *, fresh: bool = False,
                  emit: Listener = ignore, narration_audio: str | Path | bool | None = None) -> list[list[LineAudio]]:
    """One wav and one timings file per line, each reused when its key (voice, text, pace, backend) is unchanged.

    narration_audio: the user's reading of the story, cut into the lines instead of synthesizing them (see
    storymode.recorded); None: the recording this folder remembers, if any; False or "none": synthesized voices."""
    from .composers.audio import write_wav

    recording = recorded.choose(ws, narration_audio)
    if recording is not None:
        return recorded.narrate(ws, story, recording, fresh=fresh, emit=emit)
    t0 = time.perf_counter()
    total = sum(len(s.lines) for s in story.scenes)
    emit(Event("stage-start", "narrate", total=total))
    narrator = _backend("narrator", settings)
    assert isinstance(narrator, Narrator)
    cast = assign_cast(story, load_presets(), narrator.name)
    out: list[list[LineAudio]] = []
    done = cached = 0
    aligning = _aligning(settings.align)
    for scene in story.scenes:
        scene_lines = []
        scene_timings: list[dict] = []
        for line in scene.lines:
            voice = cast[line.speaker]
            key = artifact_key("narration", narrator.fingerprint(), voice.model_dump(), line.text, line.pace,
                               SPEAKABLE_RULES)
            wav = ws.narration_dir() / f"{key}.wav"
            meta = ws.narration_dir() / f"{key}.json"
            timings = None
            if not fresh and wav.exists() and meta.exists():
                timings = recorded.valid_timings(ws.read_json(meta))  # a damaged record is made again
                cached += timings is not None
            if timings is None:
                narration = narrator.narrate(line.text, voice, line.pace)
                write_wav(wav, narration.samples, narration.sample_rate)
                timings = {"duration": narration.duration, "voice": voice.name, "text": line.text,
                           "timing_source": narration.timing_source,
                           "sentences": [[s.text, round(s.start, 4), round(s.end, 4)] for s in narration.sentences],
                           "words": [[w.text, round(w.start, 4), round(w.end, 4)] for w in narration.words]}
                atomic_write_json(meta, timings)  # written last: its presence marks the artifact complete
                ws.record(key, wav, "narrate", {"scene": scene.id, "speaker": line.speaker, "voice": voice.name})
            scene_lines.append(_line_audio(wav, timings, line.speaker, line.pause_after))
            scene_timings.append({**timings, "wav": str(wav), "key": key})
            done += 1
            emit(Event("step", "narrate", done=done, total=total, cached=cached))
        if aligning:
            scene_lines = _aligned_scene(ws, scene_timings, scene, fresh)
        out.append(scene_lines)
    emit(Event("stage-end", "narrate", done=done, total=total, cached=cached, seconds=time.perf_counter() - t0))
    return out


def _aligning(setting: str) -> bool:
    """Whether to align word timings with Whisper: "on" needs the [align] extra, "auto" uses it when present."""
    from .errors import MissingDependency
    from .narrators.align import INSTALL_HINT, missing

    if setting == "off":
        return False
    if missing():
        if setting == "on":
            raise MissingDependency(f"--align on needs Whisper alignment: {INSTALL_HINT}")
        return False  # captions keep the letter-count estimate (sentences stay exact)
    return True


def _aligned_scene(ws: Workspace, scene_timings: list[dict], scene, fresh: bool) -> list[LineAudio]:  # type: ignore[no-untyped-def]
    """Whisper-aligned word timings for one scene (one pass over the whole scene), cached by its lines' keys."""
    from .narrators.align import fingerprint, refine_timings

    key = artifact_key("aligned", fingerprint(), [t["key"] for t in scene_timings])
    path = ws.narration_dir() / f"{key}.aligned.json"
    refined = None if fresh else ws.read_json(path)
    if (not isinstance(refined, list) or len(refined) != len(scene_timings)
            or not all(map(recorded.valid_timings, refined))):
        refined = [{k: v for k, v in t.items() if k != "wav"} for t in refine_timings(scene_timings)]
        atomic_write_json(path, refined)  # the timings only; the wav paths come from this run
    return [_line_audio(Path(cur["wav"]), t, line.speaker, line.pause_after)
            for cur, t, line in zip(scene_timings, refined, scene.lines)]


# ---------------------------------------------------------------- illustrate
def illustrate_stage(ws: Workspace, story: Story, settings: Settings, *, fresh: bool = False,
                     emit: Listener = ignore) -> list[str]:
    """One picture per scene (and a record of what was drawn), reused when its key is unchanged.

    The key holds the brief, not the narration: editing a scene's text redoes its narration only, editing its
    brief redoes its picture only (illustrators draw from the brief)."""
    t0 = time.perf_counter()
    total = len(story.scenes)
    emit(Event("stage-start", "illustrate", total=total))
    illustrator = _backend("illustrator", settings)
    assert isinstance(illustrator, Illustrator)
    from .illustrators.prompting import with_zoom_margin

    # pictures carry a margin for the slow zoom, so the deepest zoom still has a picture pixel per frame pixel
    width, height = with_zoom_margin(*frame_size(settings.aspect, settings.resolution))
    paths: list[str] = []
    cached = 0
    for index, scene in enumerate(story.scenes):
        request = IllustrationRequest(brief=scene.brief, cast=tuple(story.characters), scene_text=scene.text,
                                      scene_index=index, scene_count=total, style=story.style, seed=story.seed,
                                      width=width, height=height)
        in_picture = [c.model_dump() for c in request.in_picture()]
        key = artifact_key("art", illustrator.fingerprint(), scene.brief.model_dump(), in_picture,
                           [c.id for c in story.characters], index, total, story.style, story.seed,
                           width, height)
        png = ws.art_dir() / f"{key}.png"
        drawn_path = ws.art_dir() / f"{key}.json"
        if not fresh and png.exists() and drawn_path.exists():
            cached += 1
        else:
            with warnings_said(emit, "illustrate"):  # e.g. a prompt cut to the text encoder's limit
                picture = illustrator.illustrate(request)
            with atomic_path(png) as tmp:
                picture.image.save(tmp, format="PNG", compress_level=3)
            atomic_write_json(drawn_path, picture.drawn)
            ws.record(key, png, "illustrate", {"scene": scene.id})
        paths.append(str(png))
        emit(Event("step", "illustrate", done=index + 1, total=total, cached=cached))
    emit(Event("stage-end", "illustrate", done=total, total=total, cached=cached, seconds=time.perf_counter() - t0))
    return paths


# ---------------------------------------------------------------- compose
def output_paths(out: Path) -> tuple[Path, Path, Path]:
    """The video and its two caption sidecars."""
    return out, out.with_suffix(".srt"), out.with_suffix(".vtt")


def _file_stamp(path: Path) -> dict | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def check_output(out: Path, ws: Workspace, force: bool) -> None:
    """Refuse an output whose folder is missing or read-only, or a file that is not this story's own render."""
    import os
    import tempfile

    parent = out.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {out}: the folder {parent} does not exist")
    try:  # the honest test: make a file there (os.access says yes to root on read-only places)
        fd, probe = tempfile.mkstemp(prefix=".storymode-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f"cannot write {out}: the folder {parent} is not writable ({err.strerror})") from None
    for path in output_paths(out):
        if path.is_dir():
            raise UsageError(f"cannot write {path}: it is a folder")
    if force:
        return
    video, *sidecars = output_paths(out)
    if not is_own(ws, video):
        raise UsageError(f"{video} already exists and is not this story's earlier render; "
                         "use --force to overwrite it, or choose another output")
    for path in sidecars:
        if not is_own(ws, path):
            raise UsageError(f"{path} already exists and was not written by this story; "
                             "use --force to overwrite it, or choose another output")


# ---------------------------------------------------------------- which files at the output are this story's own
# manifest "files": resolved path -> claims [{"stamp": {size, mtime_ns} | None, "sha256": hex | None}]. A file is
# claimed in the manifest BEFORE it is renamed into place, so a run stopped at any moment leaves a file the next
# run recognises as its own (by its stamp, which a rename keeps, or else by its content).
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches(path: Path, record: dict) -> bool:
    """Whether the file at path is the one record describes: same stamp, or else (same size and) same content."""
    stamp = _file_stamp(path)
    if stamp is None or not isinstance(record, dict):
        return False
    if record.get("stamp") == stamp:
        return True
    size = record["stamp"].get("size") if isinstance(record.get("stamp"), dict) else None
    return bool(record.get("sha256")) and size in (None, stamp["size"]) and record["sha256"] == _sha256(path)


def _claims(ws: Workspace) -> dict:
    """The manifest's claims; a manifest from before claims recorded only the video's stamp in "output", and
    the caption files beside that video count as ours while it does."""
    files = ws.get_meta("files")
    if isinstance(files, dict):
        return files
    own = ws.get_meta("output") or {}
    video = Path(str(own.get("path") or ""))
    if not own.get("path") or own.get("stamp") is None or own.get("stamp") != _file_stamp(video):
        return {}
    return {str(p): [{"stamp": _file_stamp(p), "sha256": None}] for p in output_paths(video) if p.exists()}


def _claims_of(files: dict, path: Path) -> list:
    found = files.get(str(path.resolve()))
    return found if isinstance(found, list) else []


def is_own(ws: Workspace, path: Path) -> bool:
    """Whether path is free to (over)write: missing, or holding what this story wrote (or was allowed to) there."""
    if _file_stamp(path) is None:
        return True
    return any(_matches(path, c) for c in _claims_of(_claims(ws), path))


def claim(ws: Workspace, path: Path, *, stamp: dict | None = None, sha256: str | None = None,
          **meta: object) -> None:
    """Record, before it lands, that the file about to be at path is this story's (other top-level meta too).

    The claim of the file there now is kept when it is ours, in case the new one never lands."""
    files = _claims(ws)
    kept = [c for c in _claims_of(files, path) if _matches(path, c)][:1]
    files[str(path.resolve())] = [{"stamp": stamp, "sha256": sha256}, *kept]
    manifest = ws.read_manifest()
    manifest.update(meta, files=files)
    atomic_write_json(ws.manifest_path, manifest)


def _write_sidecar(ws: Workspace, path: Path, text: str) -> None:
    data = text.encode("utf-8")
    claim(ws, path, sha256=hashlib.sha256(data).hexdigest())
    atomic_write_bytes(path, data)


def _staged(out: Path) -> Path:
    """Where the composer renders before the video is claimed and renamed into place (a temporary's name)."""
    return out.with_name(f".{out.stem}.rendered.part.mp4")


def _render(ws: Workspace, composer: Composer, timeline: Timeline, out: Path, key: str, metadata: dict,
            progress: FrameProgress, titles: list[str]) -> None:
    """Render to a staged file, claim it (stamp and content hash) with the render's key, then rename it to out."""
    staged = _staged(out)
    try:
        composer.compose(timeline, staged, ws.build_dir(), metadata, progress,
                         chapter_titles=titles)
        stamp, digest = _file_stamp(staged), _sha256(staged)  # a rename keeps size and mtime: both hold for out
        claim(ws, out, stamp=stamp, sha256=digest,
              output={"path": str(out.resolve()), "key": key, "stamp": stamp, "sha256": digest})
        os.replace(staged, out)
    finally:
        staged.unlink(missing_ok=True)


def check_music(path: str) -> str:
    """The music file's absolute path, once ffmpeg has found an audio stream in it."""
    import subprocess

    from .ffmpeg_exe import ffmpeg_exe

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
    from .composers.base import Composer
    from .composers.captions import to_srt, to_vtt
    from .composers.storybook import write_storybook

    t0 = time.perf_counter()
    check_output(out, ws, force)
    width, height = frame_size(settings.aspect, settings.resolution)
    composer = _backend("composer", settings)
    assert isinstance(composer, Composer)
    voices = ("Narration: read aloud by the storyteller" if ws.get_meta(recorded.META)
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
    music_stamp = _file_stamp(Path(music)) if music else None
    key = artifact_key("video", composer.fingerprint(), timeline.model_dump(mode="json"), metadata, music_stamp)
    video, srt, vtt = output_paths(out)
    own = ws.get_meta("output") or {}
    frames = round(timeline.duration * timeline.fps)
    emit(Event("stage-start", "compose", total=frames))
    storybook = ws.root / "storybook.html"
    if force:  # the user let us overwrite what is there: a rerun after an interrupt needs no --force again
        for path in (video, srt, vtt):
            if not is_own(ws, path):
                claim(ws, path, stamp=_file_stamp(path))
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


# ---------------------------------------------------------------- all stages
def remove_stale_temporaries(ws: Workspace, out: Path) -> None:
    """Delete temporary files a killed run left behind (safe: we hold the folder's lock): our own temp names
    only, regular files, never through a link."""
    ws.remove_temporaries()
    sweep_temporaries(out.parent.resolve(), out.stem)  # the staged render (_staged) is one of these names
    sweep_temporaries(out.parent.resolve(), _staged(out).stem)  # the composer's own temporary for it


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
    if narration_audio and not recorded.wants_voices(narration_audio):
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

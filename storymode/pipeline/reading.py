"""The narrate stage from the user's own reading, on the story folder's side: which recording the folder uses,
and its cut into the story's lines kept in narration/ for the composer like synthesized lines. (Decoding the
recording and cutting it, with no folder involved, is narrators.audio.recording.)

Which recording: the one given (--narration-audio FILE, narration_audio=PATH), else the one the folder remembers
(manifest entry "narration_audio", written after a successful cut, so `narrate --narration-audio` followed by
`compose` keeps the reading); "none" (or False) forgets it and goes back to synthesized voices.

The cache: narration/<key>.recording.json (a CutIndex, written last: its presence marks the cut complete) lists
every line's timings record and its clip, narration/<line key>.wav. The key holds the recording's sha256
(computed again only when the file's size or mtime changed), every line's text and the cutter's fingerprint: the
same recording of the same text is cut once, a new recording or an edited text is cut again, and nothing is
shared with synthesized lines (whose keys start from "narration").

A story folder may come from elsewhere, so what it remembers is checked before it is used: the remembered
recording must be an absolute path without links whose bytes still hash to the remembered sha256 (else the user
is asked to give --narration-audio again), and a cached cut names its clips by bare file name in narration/
(anything else, or timings of the wrong shape, and the cache entry is treated as missing and cut again).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import MissingDependency, UsageError
from ..events import Event, Listener, ignore
from ..narrators.audio.timings import RecordedLine
from ..story import Story
from ..timeline import LineAudio, line_audio
from ..workspace import Workspace, artifact_key, atomic_write_json, file_stamp, is_plain_file

META = "narration_audio"
VOICE = "recording"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
_SHA256 = re.compile(SHA256_PATTERN)


@dataclass(frozen=True)
class Recording:
    """The reading a story folder is narrated from: its absolute path and the sha256 of its bytes."""

    path: Path
    sha256: str


class CutFrom(BaseModel):
    """The recording a cut was made from, as its index names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    sha256: Annotated[str, Field(pattern=SHA256_PATTERN)]


class CutIndex(BaseModel):
    """narration/<key>.recording.json: the recording a cut was made from and its lines, scene by scene."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    recording: CutFrom
    lines: list[list[RecordedLine]]


def wants_voices(value: Any) -> bool:
    """Whether narration_audio asks for synthesized voices (False, or the word "none")."""
    return value is False or (isinstance(value, str) and value.strip().lower() == "none")


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def _digest(path: Path, remembered: dict | None) -> str:
    from ..narrators.audio.recording import file_digest

    if (remembered and remembered.get("path") == str(path) and remembered.get("stamp") == file_stamp(path)
            and _is_sha256(remembered.get("sha256"))):
        return str(remembered["sha256"])  # unchanged since it was hashed
    return file_digest(path)


def _remembered_recording(remembered: dict) -> tuple[Path, str]:
    """The remembered recording's path and sha256, once both are as narrate() writes them (else refused)."""
    value, sha = remembered.get("path"), remembered.get("sha256")
    path = Path(value) if isinstance(value, str) and "\x00" not in value else None
    try:
        plain = path is not None and path.is_absolute() and path.resolve() == path
    except (OSError, RuntimeError):
        plain = False
    if not plain or not _is_sha256(sha):
        raise UsageError(f"manifest.json: {META} names {repr(value)[:200]}, which is not the absolute path (without "
                         "links or '..') of a recording; give --narration-audio FILE again, or --narration-audio "
                         "none for synthesized voices")
    assert path is not None
    return path, str(sha)


def _not_the_recording(path: Path) -> UsageError:
    return UsageError(f"{path} is not the recording this story folder was narrated from (it changed since, or "
                      f"manifest.json names another file); give --narration-audio {path} again to cut it anew, "
                      "or --narration-audio none for synthesized voices")


def choose(ws: Workspace, narration_audio: str | Path | bool | None) -> Recording | None:
    """The recording to narrate from (None: synthesized voices); "none" makes the folder forget its recording.

    The recording the folder remembers is used only while its bytes are the ones it was cut from: a folder
    from elsewhere cannot make storymode cut (and show) another file of this machine."""
    from ..narrators.audio import align
    from ..narrators.audio.recording import check_file

    remembered = ws.get_meta(META)
    remembered = remembered if isinstance(remembered, dict) and remembered.get("path") else None
    if wants_voices(narration_audio):
        if remembered:
            ws.set_meta(META, None)
        return None
    sha = None
    if narration_audio:
        path = check_file(narration_audio)
    elif remembered:
        path, sha = _remembered_recording(remembered)
        if not path.is_file():  # gone: its cut may still be cached (narrate() says so if it is not)
            return Recording(path, sha)
        if _digest(path, remembered) != sha:
            raise _not_the_recording(path)
    else:
        return None
    if align.missing():
        raise MissingDependency(f"--narration-audio needs Whisper alignment ({', '.join(align.missing())}): "
                                f"{align.INSTALL_HINT}")
    return Recording(path, sha or _digest(path, remembered))


def cut_key(recording: Recording, story: Story) -> str:
    """The cache key of a recording cut into this story's lines."""
    from ..narrators.audio.recording import fingerprint

    texts = [[line.text for line in scene.lines] for scene in story.scenes]
    return artifact_key("recording", fingerprint(), recording.sha256, texts, story.language)


def _cached(ws: Workspace, index: Path, story: Story) -> list[list[RecordedLine]] | None:
    """The cut's lines from its index; None (cut again) when it is missing or not as _cut writes it: every line a
    valid record whose clip is a plain file in narration/, one row per scene, one line per line of the story."""
    try:
        cut = CutIndex.model_validate(ws.read_json(index))
    except ValidationError:
        return None
    if [len(row) for row in cut.lines] != [len(scene.lines) for scene in story.scenes]:
        return None
    if not all(is_plain_file(ws.narration_dir() / line.wav) for row in cut.lines for line in row):
        return None
    return cut.lines


def _cut(ws: Workspace, story: Story, recording: Recording, key: str, emit: Listener,
         total: int) -> list[list[RecordedLine]]:
    from ..sound.wav import write_wav
    from ..narrators.audio.recording import cut_recording, file_digest

    if not recording.path.is_file():
        raise UsageError(f"this story folder is narrated from {recording.path}, which is gone; give "
                         "--narration-audio FILE again, or --narration-audio none for synthesized voices")
    if file_digest(recording.path) != recording.sha256:  # the bytes cut are the bytes the key names
        raise _not_the_recording(recording.path)
    shown = [0]

    def progress(fraction: float) -> None:
        done = min(total - 1, int(fraction * total))
        if done > shown[0]:
            shown[0] = done
            emit(Event("step", "narrate", done=done, total=total))

    scenes = [[line.text for line in scene.lines] for scene in story.scenes]
    cut = cut_recording(recording.path, scenes, language=story.language, progress=progress)
    lines = []
    for si, (scene, narrations) in enumerate(zip(story.scenes, cut)):
        row = []
        for li, (line, narration) in enumerate(zip(scene.lines, narrations)):
            wav = ws.narration_dir() / f"{artifact_key('recorded-line', key, si, li)}.wav"
            row.append(RecordedLine.of(narration, voice=VOICE, text=line.text, wav=wav.name,
                                       source=narration.meta.get("source")))
            write_wav(wav, narration.samples, narration.sample_rate)
        lines.append(row)
    index = ws.narration_dir() / f"{key}.recording.json"
    done = CutIndex(recording=CutFrom(path=str(recording.path), sha256=recording.sha256), lines=lines)
    atomic_write_json(index, done.model_dump(mode="json"))  # written last: its presence marks the cut complete
    ws.record(key, index, "narrate", {"recording": str(recording.path), "sha256": recording.sha256})
    return lines


def narrate(ws: Workspace, story: Story, recording: Recording, *, fresh: bool = False,
            emit: Listener = ignore) -> list[list[LineAudio]]:
    """Every line's clip of the reading with its timings (cut once per recording and text, then reused)."""
    t0 = time.perf_counter()
    total = sum(len(s.lines) for s in story.scenes)
    emit(Event("stage-start", "narrate", total=total))
    key = cut_key(recording, story)
    index = ws.narration_dir() / f"{key}.recording.json"
    lines = None if fresh else _cached(ws, index, story)
    cached = total if lines is not None else 0
    if lines is None:
        lines = _cut(ws, story, recording, key, emit, total)
    remembered = {"path": str(recording.path), "sha256": recording.sha256, "stamp": file_stamp(recording.path)}
    if ws.get_meta(META) != remembered:
        ws.set_meta(META, remembered)
    emit(Event("step", "narrate", done=total, total=total, cached=cached))
    emit(Event("stage-end", "narrate", done=total, total=total, cached=cached, seconds=time.perf_counter() - t0))
    out = []
    for scene, row in zip(story.scenes, lines):
        last = len(scene.lines) - 1
        # the reader's own pauses are in the clips: they play back to back; after a scene's last line the
        # story's pause (or the timeline's usual tail)
        out.append([line_audio(str(ws.narration_dir() / record.wav), record, line.speaker,
                               line.pause_after if n == last else 0.0)
                    for n, (line, record) in enumerate(zip(scene.lines, row))])
    return out

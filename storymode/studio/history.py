"""story.json's versions in one story folder: every state the studio saved, undo, and conflicts between tabs.

A version is named by a short hash of story.json's bytes (the ETag the browser sends back with an edit). An edit
made on a version that is no longer story.json's (another tab saved, or the CLI wrote it) is refused with a
Conflict and kept under history/rejected/, so nothing typed is lost.

Layout: history/NNNN.json holds story.json's exact bytes at one version and history/NNNN.meta.json what made it
({"n", "note", "time", "version", "prev", "scenes"}; prev: the number of the version it replaced, where undo goes
back to). The meta is written last, so an entry is whole when its meta is there. A state of story.json the
history has not seen (the story as written, or an edit by hand) is recorded before it is replaced, so undo is
never lossy: an undo is itself a new version, and the version it left stays in the history.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import LockedError, StoryValidationError, UsageError
from ..story import Story, story_from_data
from ..workspace import Workspace, atomic_write_bytes, atomic_write_json, real_folder, sweep_temporaries

HISTORY = "history"
REJECTED = "rejected"
FIRST_NOTE = "the story as written"
OUTSIDE_NOTE = "changed outside the studio (story.json edited by hand, or written by the CLI)"
LOCK_WAIT = 3.0  # seconds an edit waits for the folder's lock while another tab's edit holds it
_META = re.compile(r"^(\d{4,9})\.meta\.json$")


class Conflict(UsageError):
    """An edit or an undo on a version that is no longer story.json's; current is story.json's version now."""

    def __init__(self, message: str, current: str, kept: Path | None = None) -> None:
        super().__init__(message)
        self.current = current
        self.kept = kept  # where the refused edit was saved, if there was one


@dataclass(frozen=True)
class _Entry:
    """One recorded version: its number, what made it and when, its hash, the version it replaced, its scenes."""

    n: int
    note: str
    time: float
    version: str
    prev: int | None
    scenes: int


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _story_bytes(ws: Workspace) -> bytes:
    """story.json's bytes (never through a link); UsageError when the folder has none."""
    try:
        return ws.read_bytes(ws.story_path)
    except FileNotFoundError:
        raise UsageError(f"{ws.root} has no story.json: make or write a story there first") from None


def load(story_dir: Path) -> tuple[Story, str]:
    """story.json's story and its version, read from the same bytes."""
    ws = Workspace(story_dir)
    data = _story_bytes(ws)
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise StoryValidationError(f"{ws.story_path} is not valid JSON ({err}); fix it by hand, or undo the "
                                   "change that made it") from None
    return story_from_data(parsed, str(ws.story_path)), _hash(data)


def version_of(story_dir: Path) -> str:
    """A short hash of story.json's bytes: the version the browser loaded, sent back with each edit."""
    return _hash(_story_bytes(Workspace(story_dir)))


@contextlib.contextmanager
def locked(story_dir: Path) -> Iterator[Workspace]:
    """The story folder's Workspace with its lock held, waiting a moment while another edit holds it; a longer
    run (a render) fails at once after that wait with LockedError."""
    ws = Workspace(story_dir)
    if not ws.story_path.is_file():
        _story_bytes(ws)  # the UsageError for a folder without a story; nothing is created
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        try:
            ws.acquire()
            break
        except LockedError:
            if time.monotonic() >= deadline:
                raise LockedError(f"another storymode run (a render, or the CLI) is working on {ws.root}; "
                                  "nothing was changed: try again when it is done") from None
            time.sleep(0.05)
    try:
        yield ws
    finally:
        ws.release()


def _folder(ws: Workspace) -> Path:
    folder = real_folder(ws.root / HISTORY, HISTORY)
    sweep_temporaries(folder)  # what a killed save left
    return folder


def _entries(ws: Workspace) -> list[_Entry]:
    """The whole entries of history/, oldest first (a damaged or partial one is left out)."""
    folder = ws.root / HISTORY
    if not folder.is_dir():
        return []
    entries = []
    for name in os.listdir(folder):
        match = _META.match(name)
        if not match or not (folder / f"{match.group(1)}.json").is_file():
            continue
        meta = ws.read_json(folder / name)
        with contextlib.suppress(KeyError, TypeError, ValueError):
            prev = meta["prev"]
            entries.append(_Entry(n=int(match.group(1)), note=str(meta["note"]), time=float(meta["time"]),
                                  version=str(meta["version"]), prev=None if prev is None else int(prev),
                                  scenes=int(meta["scenes"])))
    return sorted(entries, key=lambda e: e.n)


def _scene_count(data: bytes) -> int:
    with contextlib.suppress(ValueError, TypeError, AttributeError, RecursionError):
        return len(json.loads(data)["scenes"])
    return 0


def _record(ws: Workspace, entries: list[_Entry], data: bytes, note: str, prev: int | None,
            when: float | None = None) -> _Entry:
    """A new entry holding data (the story's bytes), appended to entries."""
    folder = _folder(ws)
    n = entries[-1].n + 1 if entries else 1
    entry = _Entry(n=n, note=note, time=time.time() if when is None else when, version=_hash(data), prev=prev,
                   scenes=_scene_count(data))
    atomic_write_bytes(folder / f"{n:04d}.json", data)
    atomic_write_json(folder / f"{n:04d}.meta.json", asdict(entry))  # last: its presence marks the entry whole
    entries.append(entry)
    return entry


def _head(ws: Workspace, entries: list[_Entry], data: bytes) -> _Entry:
    """The entry of story.json as it is now, recorded first when the history has not seen it."""
    if entries and entries[-1].version == _hash(data):
        return entries[-1]
    note = OUTSIDE_NOTE if entries else FIRST_NOTE
    return _record(ws, entries, data, note, entries[-1].n if entries else None, when=ws.story_path.stat().st_mtime)


def _conflict(base: str, current: str, kept: Path | None, ws: Workspace) -> Conflict:
    where = f"your edit was kept in {ws.relative(kept)}" if kept else "nothing was changed"
    return Conflict(f"this story was changed in another tab or by the CLI since you loaded it (you had version "
                    f"{base}, it is now {current}); reload to see it — {where}", current, kept)


def _reject(ws: Workspace, text: bytes, base: str) -> Path:
    """Keep an edit refused for a stale version under history/rejected/; its path."""
    folder = real_folder(_folder(ws) / REJECTED, f"{HISTORY}/{REJECTED}")
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-on-{base[:16]}-{uuid.uuid4().hex[:6]}.json"
    atomic_write_bytes(path, text)
    return path


def save(story_dir: Path, story: Story, base: str, note: str) -> str:
    """Write story as story.json when base is still its version, keeping the version it replaces in history/
    with the note; the new version. Conflict when base is stale (the edit is kept under history/rejected/)."""
    text = story.to_json().encode("utf-8")
    with locked(story_dir) as ws:
        data = _story_bytes(ws)
        current = _hash(data)
        if current != base:
            raise _conflict(base, current, _reject(ws, text, base), ws)
        if text == data:
            return current  # nothing changed: no new version
        entries = _entries(ws)
        head = _head(ws, entries, data)
        atomic_write_bytes(ws.story_path, text)
        return _record(ws, entries, text, note, head.n).version


def undo(story_dir: Path, base: str) -> str:
    """Go back to the version the current one replaced (the undo is a new version itself, so the one left stays
    in the history); the new version. Conflict on a stale base; UsageError when there is nothing to undo."""
    with locked(story_dir) as ws:
        data = _story_bytes(ws)
        current = _hash(data)
        if current != base:
            raise _conflict(base, current, None, ws)
        entries = _entries(ws)
        head = _head(ws, entries, data)
        target = next((e for e in entries if e.n == head.prev), None)
        if target is None:
            raise UsageError("nothing to undo: this is the first version of the story the history holds")
        restored = ws.read_bytes(ws.root / HISTORY / f"{target.n:04d}.json")
        try:
            story_from_data(json.loads(restored), f"{HISTORY}/{target.n:04d}.json")
        except (ValueError, RecursionError) as err:
            raise UsageError(f"cannot undo: {HISTORY}/{target.n:04d}.json is not a valid story ({err})") from None
        atomic_write_bytes(ws.story_path, restored)
        return _record(ws, entries, restored, f"undo: back to version {target.n}", target.prev).version


def versions(story_dir: Path) -> list[dict]:
    """The story's versions, newest first: {"n", "note", "time" (seconds since the epoch), "scenes", "version",
    "current"}; story.json's state comes first with n None when no edit has recorded it yet."""
    ws = Workspace(story_dir)
    data = _story_bytes(ws)
    current = _hash(data)
    entries = _entries(ws)
    out = [{"n": e.n, "note": e.note, "time": e.time, "scenes": e.scenes, "version": e.version, "current": False}
           for e in reversed(entries)]
    if out and out[0]["version"] == current:
        out[0]["current"] = True
    else:
        out.insert(0, {"n": None, "note": OUTSIDE_NOTE if entries else FIRST_NOTE,
                       "time": ws.story_path.stat().st_mtime, "scenes": _scene_count(data), "version": current,
                       "current": True})
    return out

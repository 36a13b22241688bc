"""The files a story writes outside its folder (video, captions): which are its own, claimed before they land."""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import UsageError
from ..workspace import (Workspace, atomic_write_bytes, atomic_write_json, file_sha256, file_stamp,
                         sweep_temporaries)


def output_paths(out: Path) -> tuple[Path, Path, Path]:
    """The video and its two caption sidecars."""
    return out, out.with_suffix(".srt"), out.with_suffix(".vtt")


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


# manifest "files": resolved path -> claims [{"stamp": {size, mtime_ns} | None, "sha256": hex | None}]. A file is
# claimed in the manifest BEFORE it is renamed into place, so a run stopped at any moment leaves a file the next
# run recognises as its own (by its stamp, which a rename keeps, or else by its content).
def _matches(path: Path, record: dict) -> bool:
    """Whether the file at path is the one record describes: same stamp, or else (same size and) same content."""
    stamp = file_stamp(path)
    if stamp is None or not isinstance(record, dict):
        return False
    if record.get("stamp") == stamp:
        return True
    size = record["stamp"].get("size") if isinstance(record.get("stamp"), dict) else None
    return bool(record.get("sha256")) and size in (None, stamp["size"]) and record["sha256"] == file_sha256(path)


def _claims(ws: Workspace) -> dict:
    """The manifest's claims; a manifest from before claims recorded only the video's stamp in "output", and
    the caption files beside that video count as ours while it does."""
    files = ws.get_meta("files")
    if isinstance(files, dict):
        return files
    own = ws.get_meta("output") or {}
    video = Path(str(own.get("path") or ""))
    if not own.get("path") or own.get("stamp") is None or own.get("stamp") != file_stamp(video):
        return {}
    return {str(p): [{"stamp": file_stamp(p), "sha256": None}] for p in output_paths(video) if p.exists()}


def _claims_of(files: dict, path: Path) -> list:
    found = files.get(str(path.resolve()))
    return found if isinstance(found, list) else []


def is_own(ws: Workspace, path: Path) -> bool:
    """Whether path is free to (over)write: missing, or holding what this story wrote (or was allowed to) there."""
    if file_stamp(path) is None:
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


def remove_stale_temporaries(ws: Workspace, out: Path) -> None:
    """Delete temporary files a killed run left behind (safe: we hold the folder's lock): our own temp names
    only, regular files, never through a link."""
    ws.remove_temporaries()
    sweep_temporaries(out.parent.resolve(), out.stem)  # the staged render (_staged) is one of these names
    sweep_temporaries(out.parent.resolve(), _staged(out).stem)  # the composer's own temporary for it

"""The files a story writes outside its folder (video, captions): which are its own, claimed before they land."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, ValidatorFunctionWrapHandler, field_validator

from ..errors import UsageError
from ..workspace import (Workspace, atomic_write_bytes, atomic_write_json, file_sha256, file_stamp,
                         sweep_temporaries)

M = TypeVar("M", bound=BaseModel)


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


# The manifest's "files": resolved path -> claims, newest first. A file is claimed in the manifest BEFORE it is
# renamed into place, so a run stopped at any moment leaves a file the next run recognises as its own (by its
# stamp, which a rename keeps, or else by its content). A damaged or older manifest is read leniently: what cannot
# be read is unknown, never an error, and a file with no readable claim is simply not ours.
class FileStamp(BaseModel):
    """A file's size and modification time, which a rename keeps."""

    model_config = ConfigDict(frozen=True)

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp | None:
        """The stamp of the file at path, or None when there is none."""
        stamp = file_stamp(path)
        return cls(**stamp) if stamp is not None else None


class FileClaim(BaseModel):
    """That the file at a path is this story's: the stamp and/or the content hash it had when it was written."""

    model_config = ConfigDict(frozen=True)

    stamp: FileStamp | None = None
    sha256: str | None = None

    @field_validator("stamp", "sha256", mode="wrap")
    @classmethod
    def _unreadable_is_unknown(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            return None

    def matches(self, path: Path) -> bool:
        """Whether the file at path is the claimed one: same stamp, or else (same size and) same content."""
        stamp = FileStamp.of(path)
        if stamp is None:
            return False
        if self.stamp == stamp:
            return True
        size_fits = self.stamp is None or self.stamp.size == stamp.size
        return bool(self.sha256) and size_fits and self.sha256 == file_sha256(path)


class RenderedVideo(FileClaim):
    """The manifest's "output": the video this story last rendered, where it went and the key of that render."""

    path: str = ""
    key: str = ""


def _read(model: type[M], raw: object) -> M | None:
    """raw as a model, or None when it is not one (a damaged or hand-edited manifest)."""
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def rendered_output(ws: Workspace) -> RenderedVideo | None:
    """The video this story last rendered, as the manifest records it (None when it records none)."""
    return _read(RenderedVideo, ws.get_meta("output"))


def _claims(ws: Workspace) -> dict[str, list[FileClaim]]:
    """The manifest's claims. A manifest from before claims recorded only the video's stamp in "output", and
    the caption files beside that video count as ours while it does."""
    files = ws.get_meta("files")
    if isinstance(files, dict):
        return {path: [c for raw in found if (c := _read(FileClaim, raw)) is not None]
                for path, found in files.items() if isinstance(found, list)}
    own = rendered_output(ws)
    if own is None or not own.path or own.stamp is None or own.stamp != FileStamp.of(Path(own.path)):
        return {}
    return {str(p): [FileClaim(stamp=FileStamp.of(p))] for p in output_paths(Path(own.path)) if p.exists()}


def is_own(ws: Workspace, path: Path) -> bool:
    """Whether path is free to (over)write: missing, or holding what this story wrote (or was allowed to) there."""
    if file_stamp(path) is None:
        return True
    return any(c.matches(path) for c in _claims(ws).get(str(path.resolve()), []))


def claim(ws: Workspace, path: Path, *, stamp: FileStamp | None = None, sha256: str | None = None,
          output: RenderedVideo | None = None) -> None:
    """Record, before it lands, that the file about to be at path is this story's (and, for the video, that it
    is the story's rendered output).

    The claim of the file there now is kept when it is ours, in case the new one never lands."""
    files = _claims(ws)
    kept = [c for c in files.get(str(path.resolve()), []) if c.matches(path)][:1]
    files[str(path.resolve())] = [FileClaim(stamp=stamp, sha256=sha256), *kept]
    manifest = ws.read_manifest()
    manifest["files"] = {p: [c.model_dump(mode="json") for c in found] for p, found in files.items()}
    if output is not None:
        manifest["output"] = output.model_dump(mode="json")
    atomic_write_json(ws.manifest_path, manifest)


def write_sidecar(ws: Workspace, path: Path, text: str) -> None:
    """Claim, then write, a caption file beside the video."""
    data = text.encode("utf-8")
    claim(ws, path, sha256=hashlib.sha256(data).hexdigest())
    atomic_write_bytes(path, data)


def staged_path(out: Path) -> Path:
    """Where the composer renders before the video is claimed and renamed into place (a temporary's name)."""
    return out.with_name(f".{out.stem}.rendered.part.mp4")


def remove_stale_temporaries(ws: Workspace, out: Path) -> None:
    """Delete temporary files a killed run left behind (safe: we hold the folder's lock): our own temp names
    only, regular files, never through a link."""
    ws.remove_temporaries()
    sweep_temporaries(out.parent.resolve(), out.stem)  # the staged render (staged_path) is one of these names
    sweep_temporaries(out.parent.resolve(), staged_path(out).stem)  # the composer's own temporary for it

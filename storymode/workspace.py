"""The story folder: artifact keys, atomic writes, the manifest and the lock."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import LockedError, UsageError

LOCK_NAME = ".lock"


def artifact_key(*parts: Any) -> str:
    """A short content hash of everything that determines an artifact (JSON-serialisable parts)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(final: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=suffix or f"{final.suffix}.part",
                                    dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; the final file gets the usual mode
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to path atomically (temp file in the same folder, fsync, rename)."""
    with atomic_path(Path(path)) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 text to path atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON to path atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


class Workspace:
    """A story folder: story.json, manifest.json, narration/, art/, build/."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._lock_fh: Any = None

    # folders and files
    @property
    def story_path(self) -> Path:
        """story.json, the story the user may edit."""
        return self.root / "story.json"

    @property
    def manifest_path(self) -> Path:
        """manifest.json: artifact key -> file, with the inputs that made it."""
        return self.root / "manifest.json"

    def narration_dir(self) -> Path:
        """Folder of narration wavs and their timings."""
        return self.root / "narration"

    def art_dir(self) -> Path:
        """Folder of scene pictures."""
        return self.root / "art"

    def build_dir(self) -> Path:
        """Folder of timeline, captions and intermediate media."""
        return self.root / "build"

    def create(self) -> None:
        """Make the folder and its subfolders; a clear error if that is impossible."""
        try:
            for d in (self.root, self.narration_dir(), self.art_dir(), self.build_dir()):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot create the story folder {self.root}: {err.strerror}") from None

    # manifest
    def read_manifest(self) -> dict:
        """The manifest, or an empty one (a corrupt manifest is treated as empty: artifacts are keyed by name)."""
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def record(self, key: str, file: Path, stage: str, inputs: Any) -> None:
        """Record an artifact in the manifest (atomically rewritten)."""
        manifest = self.read_manifest()
        artifacts = manifest.setdefault("artifacts", {})
        artifacts[key] = {"file": str(Path(file).relative_to(self.root)), "stage": stage, "inputs": inputs}
        atomic_write_json(self.manifest_path, manifest)

    def set_meta(self, name: str, value: Any) -> None:
        """Store a top-level manifest entry (the request that made story.json, the last output)."""
        manifest = self.read_manifest()
        manifest[name] = value
        atomic_write_json(self.manifest_path, manifest)

    def get_meta(self, name: str) -> Any:
        """A top-level manifest entry, or None."""
        return self.read_manifest().get(name)

    # lock
    def acquire(self) -> None:
        """Take the folder's lock or fail at once with LockedError; the OS frees it if the process dies."""
        import fcntl

        self.create()
        fh = open(self.root / LOCK_NAME, "a+")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise LockedError(
                f"another storymode run is working in {self.root}; wait for it to finish, or use another output"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_fh = fh

    def release(self) -> None:
        """Release the lock."""
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> "Workspace":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

"""The story folder: artifact keys, atomic writes, the manifest and the lock.

A story folder may come from elsewhere (an archive, a shared drive), so nothing in it is trusted to stay inside
it: opening it refuses symbolic links and special files anywhere in it, every file storymode makes is a new
file renamed into place (an existing link or file is replaced, never written through), and the sweep of stale
temporaries deletes only regular files named as atomic_path names them."""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import LockedError, UsageError

LOCK_NAME = ".lock"
FOLDERS = ("narration", "art", "build", "exports")
_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # O_NONBLOCK: a fifo cannot hang an open
_LOCK_MAX = 32  # a pid and a newline; anything longer is not a lock storymode wrote
_SPECIAL = {stat.S_IFIFO: "a named pipe", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device",
            stat.S_IFBLK: "a device"}


def artifact_key(*parts: Any) -> str:
    """A short content hash of everything that determines an artifact (JSON-serialisable parts)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_file(final: Path, suffix: str | None = None) -> tuple[int, Path]:
    """A new file beside final (O_EXCL: never an existing file or link) with the usual mode; (fd, path)."""
    fd, name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=suffix or f"{final.suffix}.part", dir=final.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; the final file gets the usual mode
    return fd, Path(name)


def temp_name_pattern(stem: str | None = None) -> re.Pattern[str]:
    """The names atomic_path gives its temporaries (of one final file's stem, or of any)."""
    s = re.escape(stem) if stem is not None else ".+"
    return re.compile(rf"\.{s}\.[a-z0-9_]{{8}}(?:\.[A-Za-z0-9]+)?\.part|\.{s}\.[a-z0-9_]{{8}}\.part\.mp4")


@contextlib.contextmanager
def atomic_path(final: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_file(final, suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, final)  # replaces a link at final itself, never its target
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


def fresh_file(path: Path) -> IO[bytes]:
    """A new empty file at path, open for writing and reading (a log written while a tool runs): whatever was
    there, a link or a file with other names, is replaced, never written through."""
    path = Path(path)
    fd, tmp = _temp_file(path)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return os.fdopen(fd, "w+b")


def link_error(name: str | Path, kind: str = "file") -> UsageError:
    """The refusal for a symbolic link where storymode reads or writes (name: relative to the story folder)."""
    return UsageError(f"{name} is a symbolic link; story folders may not contain links: replace it with a real "
                      f"{kind}, or delete it")


def _special_error(name: str | Path, mode: int) -> UsageError:
    what = _SPECIAL.get(stat.S_IFMT(mode), "not a regular file")
    return UsageError(f"{name} is {what}; story folders hold only plain files and folders: delete it")


def is_plain_file(path: Path) -> bool:
    """Whether path is a regular file itself (a link to one is not)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def real_folder(path: Path, name: str | Path | None = None) -> Path:
    """path as a real folder, made if missing; a link or a file there is refused (name: how to call it)."""
    path = Path(path)
    try:
        path.mkdir(exist_ok=True)
    except FileExistsError:
        pass  # a file or a dangling link: said below
    except OSError as err:
        raise UsageError(f"cannot create the folder {name or path}: {err.strerror}") from None
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise link_error(name or path, "folder")
    if not stat.S_ISDIR(mode):
        raise UsageError(f"{name or path} is a file, where the story folder needs a folder: move it away")
    return path


def read_no_follow(path: Path, name: str | Path | None = None) -> bytes:
    """The bytes of a regular file, refusing a link or a special file (name: how to call it in the message)."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise link_error(name or path) from None
        raise
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _special_error(name or path, mode)
        return fh.read()


def _is_lock(fd: int, st: os.stat_result) -> bool:
    """A lock storymode wrote: one name only (not a hard link to another file), empty or a pid."""
    if st.st_nlink != 1 or st.st_size > _LOCK_MAX:
        return False
    text = os.pread(fd, _LOCK_MAX, 0).strip()
    return not text or text.isdigit()


def check_tree(root: Path) -> None:
    """Refuse a folder holding a symbolic link or a special file at any depth (nothing is followed)."""
    pending = [Path(root)]
    while pending:  # a loop, not recursion: a crafted folder may nest thousands deep
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as err:
            raise UsageError(f"cannot read the folder {folder}: {err.strerror}") from None
        for entry in entries:
            name = Path(entry.path).relative_to(root)
            if entry.is_symlink():
                raise link_error(name.as_posix(), "folder" if entry.name in (*FOLDERS, "fonts") else "file")
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            elif not entry.is_file(follow_symlinks=False):
                raise _special_error(name.as_posix(), entry.stat(follow_symlinks=False).st_mode)


def sweep_temporaries(folder: Path, stem: str | None = None) -> None:
    """Delete the temporaries a killed run left in folder: regular files named as atomic_path names them (of
    stem's file only, when given), directly in folder; a link is never followed nor deleted."""
    pattern = temp_name_pattern(stem)
    try:
        if os.path.islink(folder):
            raise link_error(folder, "folder")
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return  # nothing there, or a file: no temporaries of ours
    try:
        with os.scandir(dir_fd) as entries:
            stale = [e.name for e in entries if pattern.fullmatch(e.name) and e.is_file(follow_symlinks=False)]
        for name in stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def _open_lock(folder: Path) -> tuple[int, bool]:
    """folder/.lock, opened without following a link, and whether this process may write its pid in it."""
    path = folder / LOCK_NAME
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644), True
    except FileExistsError:
        pass
    except OSError as err:
        raise UsageError(f"cannot create the lock file {path}: {err.strerror}") from None
    try:
        fd = os.open(path, os.O_RDWR | _NOFOLLOW)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise link_error(LOCK_NAME) from None
        raise UsageError(f"cannot open the lock file {path}: {err.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _special_error(LOCK_NAME, st.st_mode)
    if not _is_lock(fd, st):  # someone's file under that name: left exactly as it is
        os.close(fd)
        raise UsageError(f"{LOCK_NAME} in {folder} is not a storymode lock file (it holds something else, "
                         "or has other names); move it away or delete it")
    return fd, st.st_uid == os.geteuid()


def lock_folder(folder: Path) -> int | None:
    """Take folder/.lock (an existing folder), or None when another process holds it; the OS frees it when the
    process dies. A link, a special file or a file that is not a storymode lock there is refused (UsageError).
    Returns the lock's file descriptor: close it to release the lock."""
    import fcntl

    fd, own = _open_lock(Path(folder))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if own:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


class Workspace:
    """A story folder: story.json, manifest.json, narration/, art/, build/, exports/."""

    def __init__(self, root: str | Path) -> None:
        self._given = Path(os.path.abspath(root))
        self.root = Path(root).resolve()
        self._lock_fd: int | None = None

    # folders and files
    @property
    def story_path(self) -> Path:
        """story.json, the story the user may edit."""
        return self.root / "story.json"

    @property
    def manifest_path(self) -> Path:
        """manifest.json: artifact key -> file, with the inputs that made it."""
        return self.root / "manifest.json"

    def _folder(self, name: str) -> Path:
        path = self.root / name
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return path
        if stat.S_ISLNK(mode):
            raise link_error(name, "folder")
        if not stat.S_ISDIR(mode):
            raise UsageError(f"{name} is a file, where the story folder needs a folder: move it away")
        return path

    def narration_dir(self) -> Path:
        """Folder of narration wavs and their timings (a link there is refused)."""
        return self._folder("narration")

    def art_dir(self) -> Path:
        """Folder of scene pictures (a link there is refused)."""
        return self._folder("art")

    def build_dir(self) -> Path:
        """Folder of timeline, captions and intermediate media (a link there is refused)."""
        return self._folder("build")

    def exports_dir(self) -> Path:
        """Folder of the storybook page, books and editor timelines (a link there is refused)."""
        return self._folder("exports")

    def relative(self, path: Path) -> str:
        """path as named inside the story folder (for messages)."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _make_root(self) -> None:
        if self._given.is_symlink():
            raise UsageError(f"the story folder {self._given} is a symbolic link; give the real folder "
                             f"({self.root}) instead")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot create the story folder {self.root}: {err.strerror}") from None

    def create(self) -> None:
        """Make the folder and its subfolders, after checking that it holds no link and no special file."""
        self._make_root()
        check_tree(self.root)
        for name in FOLDERS:
            real_folder(self.root / name, name)

    # reading what the folder holds
    def read_bytes(self, path: Path) -> bytes:
        """A file of the folder, never through a link (FileNotFoundError when it is missing)."""
        return read_no_follow(path, self.relative(path))

    def read_json(self, path: Path) -> Any:
        """A JSON file of the folder, or None when it is missing or not JSON (a cache entry made again)."""
        try:
            return json.loads(self.read_bytes(path))
        except (OSError, ValueError, RecursionError):
            return None

    # manifest
    def read_manifest(self) -> dict:
        """The manifest, or an empty one (a corrupt manifest is treated as empty: artifacts are keyed by name)."""
        data = self.read_json(self.manifest_path)
        return data if isinstance(data, dict) else {}

    def record(self, key: str, file: Path, stage: str, inputs: Any) -> None:
        """Record an artifact in the manifest (atomically rewritten), its file relative to the folder."""
        manifest = self.read_manifest()
        artifacts = manifest.get("artifacts")
        artifacts = manifest["artifacts"] = artifacts if isinstance(artifacts, dict) else {}
        artifacts[key] = {"file": Path(file).relative_to(self.root).as_posix(), "stage": stage, "inputs": inputs}
        atomic_write_json(self.manifest_path, manifest)

    def set_meta(self, name: str, value: Any) -> None:
        """Store a top-level manifest entry (the request that made story.json, the last output)."""
        manifest = self.read_manifest()
        manifest[name] = value
        atomic_write_json(self.manifest_path, manifest)

    def get_meta(self, name: str) -> Any:
        """A top-level manifest entry, or None."""
        return self.read_manifest().get(name)

    def remove_temporaries(self) -> None:
        """Delete the temporary files a killed run left in the folder (call it holding the lock)."""
        for folder in (self.root, *(self._folder(name) for name in FOLDERS), self.root / "build" / "fonts"):
            sweep_temporaries(folder)

    # lock
    def acquire(self) -> None:
        """Take the folder's lock or fail at once with LockedError; the OS frees it if the process dies.

        Then the folder is checked (no links, no special files) and its subfolders made."""
        self._make_root()
        fd = lock_folder(self.root)
        if fd is None:
            raise LockedError(
                f"another storymode run is working in {self.root}; wait for it to finish, or use another output")
        try:
            self.create()
        except BaseException:
            os.close(fd)
            raise
        self._lock_fd = fd

    def release(self) -> None:
        """Release the lock."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "Workspace":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def file_stamp(path: Path) -> dict | None:
    """A file's size and mtime (which a rename keeps), or None when it cannot be read."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

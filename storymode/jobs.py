"""One story job, made the same way by `storymode batch` and `storymode serve`.

A job is a prompt or a text with settings; it is made in a folder of its own (``<job folder>/story.mp4`` and the
story folder beside it) through ``storymode.api.make``, and a failure comes back as one line a user can act on.
"""
from __future__ import annotations

import errno
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LockedError, StorymodeError, UsageError
from .events import Listener, ignore
from .workspace import atomic_write_text

if TYPE_CHECKING:
    from .pipeline import Result

VIDEO_NAME = "story.mp4"
LOCK_RETRY_S = 0.5


def text_stem(title: str | None, fallback: str = "story") -> str:
    """A safe file stem for a job's text, made from its title (fallback when the title has no letters)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", title or fallback).strip("-")[:60] or "story"


def describe_failure(err: BaseException) -> str:
    """A failed job's error as the one line its record keeps: storymode's own message, a full disk said plainly."""
    if isinstance(err, StorymodeError):
        return str(err)
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" while writing {err.filename}" if err.filename else ""
        return (f"the disk is full{where} ({err.strerror}); free some space and run the batch again "
                "(finished stories are kept and cached stages resume)")
    if isinstance(err, OSError):
        return f"{err.strerror or err}" + (f" ({err.filename})" if err.filename else "")
    return f"unexpected {type(err).__name__}: {err}"


def make_story(job_dir: Path, *, prompt: str | None = None, from_file: Path | None = None, text: str | None = None,
               settings: dict[str, Any] | None = None, on_event: Listener = ignore,
               lock_wait_s: float = 0.0) -> Result:
    """Make one job's story in job_dir (job_dir/story.mp4 and job_dir/story.storymode/).

    text, when given, is written to from_file first (the story is then narrated from it word for word).
    lock_wait_s: how long to wait for a story folder another process still holds (a worker of a killed service
    may hold it for a moment); 0 fails at once with LockedError."""
    from . import api

    try:
        job_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create {job_dir}: {err.strerror}") from None
    if text is not None:
        from_file = from_file or job_dir / "story.txt"
        atomic_write_text(from_file, text)
    deadline = time.monotonic() + lock_wait_s
    while True:
        try:
            return api.make(prompt, out=job_dir / VIDEO_NAME, from_file=from_file, on_event=on_event,
                            **(settings or {}))
        except LockedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(LOCK_RETRY_S)

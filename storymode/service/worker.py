"""The worker process of one service job: storymode.api.make with its progress written into the job's record."""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from ..events import Event, Listener
from ..jobs import describe_failure, make_story, text_stem
from .limits import Limits, check_length
from .store import Store, now

LOCK_WAIT_S = 10.0  # a worker of a killed service may still hold the story folder for a moment
WRITE_EVERY_S = 0.25  # progress steps are written at most this often (stage starts and ends always)


def watch_parent(parent: int) -> None:
    """Stop this worker's whole process group (ffmpeg and all) once the service that started it is gone."""
    while True:
        if os.getppid() != parent:  # the service died; its next start queues the job again
            with contextlib.suppress(OSError):
                os.killpg(os.getpid(), signal.SIGKILL)
            os._exit(1)
        time.sleep(0.5)


def worker_main(data: str, job_id: str, parent: int, max_minutes: float = Limits.minutes) -> None:
    """Run one job: storymode.api.make with progress written into the job's JSON, in a process group of its own
    (so that cancelling kills its ffmpeg too); a video longer than max_minutes is refused before it is rendered."""
    from ..config import resolve_settings

    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    store = Store(Path(data))
    job = store.read(job_id)
    if job is None:
        return
    request = job["request"]
    settings = request.get("settings") or {}
    story_dir = store.story_dir(job_id)
    try:
        on_event = _progress_writer(store, job, resolve_settings(settings).fps, max_minutes)
        text = request.get("text") or None
        result = make_story(story_dir, prompt=request.get("prompt"), text=text, settings=settings,
                            from_file=story_dir / f"{text_stem(request.get('title'))}.txt" if text else None,
                            on_event=on_event, lock_wait_s=LOCK_WAIT_S)
        job.update(status="done", finished=now(), error=None,
                   result={"duration": round(result.duration, 3), "title": result.story.title,
                           "scenes": len(result.story.scenes), "stage_seconds": result.stage_seconds})
    except Exception as err:  # noqa: BLE001 - recorded in the job
        job.update(status="failed", finished=now(), error=describe_failure(err))
    store.write(job)


def _progress_writer(store: Store, job: dict[str, Any], fps: int, max_minutes: float) -> Listener:
    """The listener that keeps job["stages"] current on disk, and refuses a video over max_minutes when its
    rendering starts."""
    last = [0.0]

    def on_event(event: Event) -> None:
        if event.kind not in ("stage-start", "step", "stage-end") or not event.stage:
            return
        if event.kind == "stage-start" and event.stage == "compose":
            check_length(event.total / fps, max_minutes)
        job["stages"][event.stage] = {"state": "done" if event.kind == "stage-end" else "running",
                                      "done": event.done, "total": event.total, "cached": event.cached,
                                      "seconds": round(event.seconds, 3)}
        moment = time.monotonic()
        if event.kind != "step" or moment - last[0] > WRITE_EVERY_S:
            last[0] = moment
            with contextlib.suppress(OSError):
                store.write(job)

    return on_event


def kill_group(proc: Any) -> None:
    """Kill a worker and everything it started (its process group: ffmpeg, narrators) and wait for them."""
    pid = proc.pid
    if pid is None:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # not a group leader yet: it has started nothing
        with contextlib.suppress(OSError):
            proc.kill()
    proc.join(10)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # the group's last members (ffmpeg) go a moment after the worker
        try:
            os.killpg(pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)

"""The worker side of a batch: one job made in a worker process or a Ray task, its events sent home."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from ..events import Event
from ..jobs import describe_failure, make_story
from ..workspace import atomic_write_json
from .records import Job

_events: Any = None  # a multiprocessing queue set by the pool initializer (local engine)


def init_worker(events: Any) -> None:
    """Pool initializer: the queue this worker's pipeline events go to."""
    global _events
    _events = events


def run_job(spec: dict[str, Any]) -> dict[str, Any]:
    """Make one story (in a worker process or a Ray task); never raises: errors come back in the result."""
    job = Job(**spec)
    t0 = time.perf_counter()
    options = dict(job.options)
    text = options.pop("__text__", None)
    events = _events

    def on_event(event: Event) -> None:
        if events is not None and event.kind != "done":
            with contextlib.suppress(Exception):
                events.put((job.id, event.to_dict()))

    out: dict[str, Any] = {"id": job.id, "line": job.line}
    try:
        job_dir = Path(job.dir)
        result = make_story(job_dir, prompt=job.prompt, text=text, settings=options, on_event=on_event,
                            from_file=Path(job.from_file) if job.from_file else None)
        record = {"key": job.key, "video": str(result.video), "srt": str(result.srt), "vtt": str(result.vtt),
                  "story_dir": str(result.story_dir), "storybook": str(result.storybook),
                  "duration": round(result.duration, 3), "stage_seconds": result.stage_seconds}
        atomic_write_json(job_dir / "job.json", record)
        out.update(record, status="ok")
    except BaseException as err:  # noqa: BLE001 - a failed story never stops the others
        if isinstance(err, KeyboardInterrupt):
            raise
        out.update(status="failed", error=describe_failure(err))
    out.pop("key", None)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out

"""A whole batch: read the jobs file, skip finished jobs, run the rest on an engine, keep summary.json current."""
from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from ..errors import UsageError
from ..events import Event, Listener, ignore
from ..jobs import describe_failure
from ..workspace import atomic_write_json
from .engines import ENGINES
from .jobs_file import read_jobs
from .records import BatchSummary, Job, JobResult, finished, result_from_record


class Emitter:
    """Serialises events from the main thread and the event-queue thread onto one listener."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self.lock:
            with contextlib.suppress(Exception):
                self.listener(event)


def write_summary(summary: BatchSummary, path: Path, emit: Listener) -> bool:
    """Write summary.json; a warning event (and False) when it cannot be written."""
    try:
        atomic_write_json(path, summary.to_dict())
        return True
    except OSError as err:
        emit(Event("warning", "batch", message=f"cannot write {path}: {describe_failure(err)}"))
        return False


def run_batch(jobs_file: str | Path, out_dir: str | Path, *, workers: int = 1, engine: str = "local",
              address: str | None = None, on_event: Listener | None = None) -> BatchSummary:
    """Run every job of a JSON-lines file; returns the summary (also written to out_dir/summary.json).

    Events: stage-start/step/stage-end of stage "batch" (done/total stories, data: the job's result), the
    per-story pipeline events with data {"job": id} (local engine), warnings, and a final "done".
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; engines: {', '.join(ENGINES)}")
    if workers < 1:
        raise UsageError("workers must be at least 1")
    emit = Emitter(on_event or ignore)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the output folder {out_dir}: {err.strerror}") from None
    t0 = time.perf_counter()
    summary = BatchSummary(jobs_file=str(Path(jobs_file).resolve()), out_dir=str(out_dir.resolve()), engine=engine,
                           workers=workers, started=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    summary_path = out_dir / "summary.json"
    jobs, bad = read_jobs(Path(jobs_file), out_dir)
    total = len(jobs) + len(bad)
    emit(Event("stage-start", "batch", total=total))

    def record(result: JobResult) -> None:
        summary.jobs.append(result)
        if result.status == "failed":
            emit(Event("warning", "batch", message=result.error if (result.error or "").startswith("line ")
                       else f"{result.id} (line {result.line}): {result.error}"))
        emit(Event("step", "batch", done=len(summary.jobs), total=total, cached=summary.skipped,
                   data=asdict(result)))

    for result in bad:
        record(result)
    todo: list[Job] = []
    for job in jobs:
        if finished(job):
            record(result_from_record(job, "skipped"))
        else:
            todo.append(job)
    write_summary(summary, summary_path, emit)
    if todo:
        ENGINES[engine](todo, workers, address, emit,
                        lambda r: (record(r), write_summary(summary, summary_path, emit)))
    summary.seconds = time.perf_counter() - t0
    emit(Event("stage-end", "batch", done=len(summary.jobs), total=total, cached=summary.skipped,
               seconds=summary.seconds))
    if write_summary(summary, summary_path, emit):
        summary.summary_path = str(summary_path)
    emit(Event("done", "batch", data={k: v for k, v in summary.to_dict().items() if k != "jobs"}))
    return summary

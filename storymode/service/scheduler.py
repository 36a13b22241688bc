"""The scheduler: a bounded FIFO queue of jobs and at most `workers` worker processes, all state mirrored on disk."""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import signal
import threading
import time
import uuid
from collections import deque
from typing import Any

from .limits import Limits
from .store import ACTIVE, Store, now
from .worker import kill_group, worker_main

MAX_QUEUE = 32
MAX_RESTARTS = 3


class Scheduler:
    """A bounded FIFO queue of job ids and at most `workers` worker processes; all state mirrored on disk."""

    def __init__(self, store: Store, workers: int = 1, max_queue: int = MAX_QUEUE,
                 limits: Limits | None = None) -> None:
        self.store = store
        self.workers = workers
        self.max_queue = max_queue
        self.limits = limits or Limits()
        self.queue: deque[str] = deque()
        self.running: dict[str, Any] = {}
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.ctx = multiprocessing.get_context("spawn")
        self.thread: threading.Thread | None = None

    def recover(self) -> None:
        """Queue again the jobs a stopped service left queued or running (or fail them after many restarts);
        job files that cannot be read or have the wrong shape are moved aside first."""
        self.store.quarantine_bad()
        for job in self.store.all():
            if job["status"] == "running":
                job["restarts"] = job.get("restarts", 0) + 1
                if job["restarts"] > MAX_RESTARTS:
                    job.update(status="failed", finished=now(),
                               error=f"the service stopped {MAX_RESTARTS} times while making this story")
                    self.store.write(job)
                    continue
                job.update(status="queued", started=None)
                self.store.write(job)
            if job["status"] == "queued":
                self.queue.append(job["id"])

    def submit(self, request: dict[str, Any]) -> dict[str, Any]:
        """Queue a new job for a request (written to disk first); OverflowError when the queue is full."""
        with self.lock:
            if len(self.queue) >= self.max_queue:
                raise OverflowError
            job = {"id": uuid.uuid4().hex, "status": "queued", "created": now(), "seq": time.monotonic_ns(),
                   "started": None, "finished": None, "stages": {}, "error": None, "restarts": 0, "result": None,
                   "request": request}
            self.store.write(job)
            self.queue.append(job["id"])
            return job

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """Cancel a queued or running job: its worker's process group is killed and its story folder removed;
        the job stays, cancelled. Other jobs come back unchanged."""
        with self.lock:
            job = self.store.read(job_id)
            if job is None or job["status"] not in ACTIVE:
                return job
            with contextlib.suppress(ValueError):
                self.queue.remove(job_id)
            proc = self.running.pop(job_id, None)
            if proc is not None:
                kill_group(proc)
                job = self.store.read(job_id) or job
            shutil.rmtree(self.store.story_dir(job_id), ignore_errors=True)
            job.update(status="cancelled", finished=now())
            self.store.write(job)
            return job

    def remove(self, job_id: str) -> dict[str, Any] | None:
        """Delete a finished (done, failed or cancelled) job and its files; returns it, or None if missing."""
        with self.lock:
            job = self.store.read(job_id)
            if job is None or job["status"] in ACTIVE:
                return job
            proc = self.running.pop(job_id, None)
            if proc is not None:  # a worker that wrote its result and has not quite exited
                kill_group(proc)
            self.store.remove(job_id)
            return job

    def discard(self, job_id: str) -> tuple[str, dict[str, Any] | None]:
        """DELETE: ("cancelled", job) for a queued or running job, ("removed", job) for a finished one,
        ("missing", None) for no job."""
        with self.lock:
            job = self.store.read(job_id)
            if job is None:
                return "missing", None
            if job["status"] in ACTIVE:
                return "cancelled", self.cancel(job_id)
            return "removed", self.remove(job_id)

    def _reap(self) -> None:
        for job_id, proc in list(self.running.items()):
            if proc.is_alive():
                continue
            proc.join()
            with contextlib.suppress(OSError):  # anything the worker left running (an ffmpeg)
                os.killpg(proc.pid, signal.SIGKILL)
            del self.running[job_id]
            job = self.store.read(job_id)
            if job is not None and job["status"] == "running":
                job.update(status="failed", finished=now(),
                           error=f"the worker process ended without a result (exit code {proc.exitcode})")
                self.store.write(job)

    def _start_next(self) -> None:
        while self.queue and len(self.running) < self.workers:
            job_id = self.queue.popleft()
            job = self.store.read(job_id)
            if job is None or job["status"] != "queued":
                continue
            job.update(status="running", started=now())
            self.store.write(job)
            proc = self.ctx.Process(target=worker_main, name=f"storymode-job-{job_id[:8]}", daemon=True,
                                    args=(str(self.store.data), job_id, os.getpid(), self.limits.minutes))
            proc.start()
            with contextlib.suppress(OSError):  # the worker does it too; whichever comes first
                os.setpgid(proc.pid, proc.pid)
            self.running[job_id] = proc

    def loop(self) -> None:
        """Reap finished workers and start queued jobs, until stopped."""
        while not self.stop_event.is_set():
            with self.lock:
                self._reap()
                self._start_next()
            self.stop_event.wait(0.1)

    def start(self) -> None:
        """Recover what a stopped service left, then run the loop in a thread."""
        self.recover()
        self.thread = threading.Thread(target=self.loop, name="storymode-scheduler", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop the workers (and their process groups); their jobs go back to the queue (on disk) for the next
        start."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(5)
        with self.lock:
            for job_id, proc in list(self.running.items()):
                kill_group(proc)
                job = self.store.read(job_id)
                if job is not None and job["status"] == "running":
                    job.update(status="queued", started=None)
                    self.store.write(job)
            self.running.clear()

